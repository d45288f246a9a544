"""The provider table is the one list of providers; everything else is derived from it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import translation

from accounts.forms import GenerationDefaultsForm, KeyForm
from accounts.models import Provider, ProviderKey
from core.providers import PROVIDER_NAMES, PROVIDERS, provider_choices, provider_label
from generation.serializers import RunStartSerializer
from llm.providers.base import BaseLLMClient
from llm.providers.registry import adapter_class

ROOT = Path(__file__).resolve().parent.parent.parent
SDKS = ("openai", "anthropic", "groq")


def _python(code: str, env: dict[str, str] | None = None) -> list:
    """Run ``code`` in a fresh interpreter, with the providers' variables unset but those
    of ``env``; it prints one JSON value, returned here."""
    unset = {v for p in PROVIDERS for v in (p.key_env, p.base_url_env, p.model_env)}
    full_env = {k: v for k, v in os.environ.items() if k not in unset}
    full_env.update(DJANGO_SETTINGS_MODULE="samokoder_site.settings", **(env or {}))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=full_env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


LOADED = f"[m for m in {SDKS!r} if m in sys.modules]"


def test_importing_the_table_settings_or_registry_loads_no_vendor_sdk():
    loaded = _python(
        "import json, sys\n"
        "import core.providers, samokoder_site.settings\n"
        f"table = {LOADED}\n"
        "apps = [m for m in ('accounts.models', 'llm.models') if m in sys.modules]\n"
        "import django; django.setup()\n"
        "import llm.providers.registry, llm.services\n"
        f"gateway = {LOADED}\n"
        "llm.providers.registry.adapter_class('groq')\n"
        f"print(json.dumps([table, apps, gateway, {LOADED}]))\n"
    )
    table, apps, gateway, after_groq = loaded
    assert (table, apps, gateway) == ([], [], [])
    # Loaded on first use, and only the one asked for (Groq's adapter builds on OpenAI's).
    assert after_groq == ["openai", "groq"]


def test_settings_read_each_providers_variables_from_the_table():
    env = {
        "GROQ_MODEL": "llama-test",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/anthropic",
        "OPENAI_API_KEY": "sk-system-test",
    }
    keys, urls, models = _python(
        "import json; from django.conf import settings\n"
        "print(json.dumps([settings.LLM_SYSTEM_KEYS, settings.LLM_BASE_URLS,"
        " settings.LLM_DEFAULT_MODELS]))",
        env,
    )
    assert keys == {"openai": "sk-system-test", "anthropic": "", "groq": ""}
    assert urls == {"openai": None, "anthropic": "http://127.0.0.1:9/anthropic", "groq": None}
    # An unset variable is the table's default model; a set one wins.
    assert models == {"openai": "gpt-4.1", "anthropic": "claude-sonnet-4-6", "groq": "llama-test"}


def test_every_row_has_its_adapter_and_an_unknown_name_has_none():
    for spec in PROVIDERS:
        adapter = adapter_class(spec.name)
        assert issubclass(adapter, BaseLLMClient)
        assert f"{adapter.__module__}.{adapter.__qualname__}" == spec.adapter
    with pytest.raises(KeyError):
        adapter_class("mistral")


def test_choices_and_the_run_api_follow_the_table():
    pairs = [(spec.name, spec.label) for spec in PROVIDERS]
    assert provider_choices() == pairs
    assert Provider.choices == pairs and Provider.GROQ == "groq"
    assert ProviderKey._meta.get_field("provider").choices == pairs
    assert KeyForm().fields["provider"].choices == pairs
    assert list(RunStartSerializer().fields["provider"].choices) == list(PROVIDER_NAMES)
    assert provider_label("anthropic") == "Anthropic" and provider_label("other") == "other"


def test_the_defaults_form_has_a_model_field_per_provider_first(settings):
    with translation.override("ru"):
        form = GenerationDefaultsForm()
    names = [f"{spec.name}_model" for spec in PROVIDERS]
    assert list(form.fields)[: len(names)] == names
    assert list(form.fields)[len(names) :] == ["run_max_cost", "run_max_llm_calls"]
    groq = form.fields["groq_model"]
    assert groq.label == "Модель Groq"
    assert settings.LLM_DEFAULT_MODELS["groq"] in groq.help_text
