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
    key_env: str  # environment variable with the platform's system key
    base_url_env: str  # ... with another endpoint (a compatible server, the replay server)
    model_env: str  # ... overriding ``default_model``


PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        name="openai",
        label="OpenAI",
        adapter="llm.providers.openai.OpenAIClient",
        default_model="gpt-4.1",
        key_env="OPENAI_API_KEY",
        base_url_env="OPENAI_BASE_URL",
        model_env="OPENAI_MODEL",
    ),
    ProviderSpec(
        name="anthropic",
        label="Anthropic",
        adapter="llm.providers.anthropic.AnthropicClient",
        default_model="claude-sonnet-4-6",
        key_env="ANTHROPIC_API_KEY",
        base_url_env="ANTHROPIC_BASE_URL",
        model_env="ANTHROPIC_MODEL",
    ),
    ProviderSpec(
        name="groq",
        label="Groq",
        adapter="llm.providers.groq.GroqClient",
        default_model="llama-3.3-70b-versatile",
        key_env="GROQ_API_KEY",
        base_url_env="GROQ_BASE_URL",
        model_env="GROQ_MODEL",
    ),
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
