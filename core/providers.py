"""The LLM providers the platform offers: one row each, the only place they are spelled.

Model choices (``accounts.models.Provider``), forms, the run API's provider field, the
settings read from the environment and the adapter registry are all derived from
``PROVIDERS``; adding a provider is one adapter module plus one row here (and a
migration for the new choice).

This module imports nothing but the standard library: settings read it before Django's
apps are loaded, and importing it must not import a vendor SDK (adapters are named by
dotted path and imported on first use, by ``llm.providers.registry``).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderSpec:
    """One provider: how it is named, shown, reached and configured."""

    name: str  # stored in the database and used in URLs and the API
    label: str  # as the vendor spells it; the same in every language
    adapter: str  # dotted path of its ``BaseLLMClient`` subclass
    default_model: str  # used when neither the run nor the user names one

    # The environment variables settings read for it: the platform's system key, another
    # endpoint (a compatible server, the replay server) and a default model of one's own.
    @property
    def key_env(self) -> str:
        return f"{self.name.upper()}_API_KEY"

    @property
    def base_url_env(self) -> str:
        return f"{self.name.upper()}_BASE_URL"

    @property
    def model_env(self) -> str:
        return f"{self.name.upper()}_MODEL"


PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec("openai", "OpenAI", "llm.providers.openai.OpenAIClient", "gpt-4.1"),
    ProviderSpec(
        "anthropic", "Anthropic", "llm.providers.anthropic.AnthropicClient", "claude-sonnet-4-6"
    ),
    ProviderSpec("groq", "Groq", "llm.providers.groq.GroqClient", "llama-3.3-70b-versatile"),
)

# In the table's order, which is also the order a run's default provider is picked in.
PROVIDER_NAMES: tuple[str, ...] = tuple(p.name for p in PROVIDERS)
_BY_NAME = {p.name: p for p in PROVIDERS}
if len(_BY_NAME) != len(PROVIDERS):
    raise ValueError("Two rows of the provider table share a name.")


def provider_get(name: str) -> ProviderSpec:
    """The provider's row; KeyError for a name the table does not have."""
    return _BY_NAME[name]


def provider_label(name: str) -> str:
    """The provider's label, or ``name`` itself for one the table does not have."""
    spec = _BY_NAME.get(name)
    return spec.label if spec else name


def provider_choices() -> list[tuple[str, str]]:
    """``(name, label)`` pairs, for model and form choices."""
    return [(p.name, p.label) for p in PROVIDERS]
