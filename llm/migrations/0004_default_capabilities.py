"""Default structured-output modes, from the providers' documentation.

OpenAI: ``response_format`` json_schema on its current chat models. Anthropic: a tool whose
input schema is the answer, forced with ``tool_choice``. Groq: json_schema only on the
models its structured-outputs page lists (the gpt-oss and Llama 4 ones at the time),
``json_object`` with the schema in the prompt on the others. ``*`` is each provider's
row for a model not named; operators edit the table in admin, and the gateway records a
model that refused its mode.
"""

from django.db import migrations

CAPABILITIES = [
    ("openai", "*", "json_schema"),
    ("anthropic", "*", "tool_use"),
    ("groq", "*", "json_object"),
    ("groq", "openai/gpt-oss-120b", "json_schema"),
    ("groq", "openai/gpt-oss-20b", "json_schema"),
    ("groq", "meta-llama/llama-4-maverick-17b-128e-instruct", "json_schema"),
    ("groq", "meta-llama/llama-4-scout-17b-16e-instruct", "json_schema"),
    ("groq", "moonshotai/kimi-k2-instruct", "json_schema"),
]


def add_capabilities(apps, schema_editor):
    capability = apps.get_model("llm", "ModelCapability")
    capability.objects.bulk_create(
        [capability(provider=p, model=m, structured_mode=mode) for p, m, mode in CAPABILITIES],
        ignore_conflicts=True,
    )


def remove_capabilities(apps, schema_editor):
    capability = apps.get_model("llm", "ModelCapability")
    for provider, model, _mode in CAPABILITIES:
        capability.objects.filter(provider=provider, model=model, learned=False).delete()


class Migration(migrations.Migration):
    dependencies = [("llm", "0003_model_capability")]
    operations = [migrations.RunPython(add_capabilities, remove_capabilities)]
