"""Provider name -> adapter class. A new provider is one module plus one line here."""

from llm.providers.anthropic import AnthropicClient
from llm.providers.base import BaseLLMClient
from llm.providers.groq import GroqClient
from llm.providers.openai import OpenAIClient
from llm.types import ProviderConfig

ADAPTERS: dict[str, type[BaseLLMClient]] = {
    "openai": OpenAIClient,
    "anthropic": AnthropicClient,
    "groq": GroqClient,
}


def client_for(config: ProviderConfig) -> BaseLLMClient:
    return ADAPTERS[config.provider](config)
