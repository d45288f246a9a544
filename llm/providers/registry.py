"""Provider name -> adapter class, from the provider table.

Adapters are imported on first use, so importing this module (or the gateway) does not
load the three vendor SDKs; a process that only serves pages never pays for them.
"""

from functools import cache
from importlib import import_module

from core.providers import provider_get
from llm.providers.base import BaseLLMClient
from llm.types import ProviderConfig


@cache
def adapter_class(provider: str) -> type[BaseLLMClient]:
    """The adapter class of ``provider``'s row; KeyError for an unknown provider."""
    module_path, _, class_name = provider_get(provider).adapter.rpartition(".")
    adapter: object = getattr(import_module(module_path), class_name)
    if not (isinstance(adapter, type) and issubclass(adapter, BaseLLMClient)):
        raise TypeError(f"{adapter!r} (provider {provider!r}) is not a BaseLLMClient")
    return adapter


def client_for(config: ProviderConfig) -> BaseLLMClient:
    return adapter_class(config.provider)(config)
