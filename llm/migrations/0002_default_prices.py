"""Default prices, USD per million tokens, from the providers' public price pages.

Operators edit them in admin; a model not listed is recorded with an unknown cost.
"""

from decimal import Decimal

from django.db import migrations

PRICES = [
    ("openai", "gpt-5.1", "1.25", "10.00"),
    ("openai", "gpt-5", "1.25", "10.00"),
    ("openai", "gpt-5-mini", "0.25", "2.00"),
    ("openai", "gpt-5-nano", "0.05", "0.40"),
    ("openai", "gpt-4.1", "2.00", "8.00"),
    ("openai", "gpt-4.1-mini", "0.40", "1.60"),
    ("openai", "gpt-4.1-nano", "0.10", "0.40"),
    ("openai", "gpt-4o", "2.50", "10.00"),
    ("openai", "gpt-4o-mini", "0.15", "0.60"),
    ("openai", "o4-mini", "1.10", "4.40"),
    ("anthropic", "claude-opus-4-6", "5.00", "25.00"),
    ("anthropic", "claude-opus-4-5", "5.00", "25.00"),
    ("anthropic", "claude-opus-4-1", "15.00", "75.00"),
    ("anthropic", "claude-sonnet-4-6", "3.00", "15.00"),
    ("anthropic", "claude-sonnet-4-5", "3.00", "15.00"),
    ("anthropic", "claude-sonnet-4-0", "3.00", "15.00"),
    ("anthropic", "claude-haiku-4-5", "1.00", "5.00"),
    ("anthropic", "claude-3-5-haiku-latest", "0.80", "4.00"),
    ("groq", "llama-3.3-70b-versatile", "0.59", "0.79"),
    ("groq", "llama-3.1-8b-instant", "0.05", "0.08"),
    ("groq", "openai/gpt-oss-120b", "0.15", "0.75"),
    ("groq", "openai/gpt-oss-20b", "0.10", "0.50"),
]


def add_prices(apps, schema_editor):
    price = apps.get_model("llm", "ModelPrice")
    price.objects.bulk_create(
        [
            price(provider=p, model=m, input_per_million=Decimal(i), output_per_million=Decimal(o))
            for p, m, i, o in PRICES
        ],
        ignore_conflicts=True,
    )


def remove_prices(apps, schema_editor):
    price = apps.get_model("llm", "ModelPrice")
    for provider, model, _i, _o in PRICES:
        price.objects.filter(provider=provider, model=model).delete()


class Migration(migrations.Migration):
    dependencies = [("llm", "0001_initial")]
    operations = [migrations.RunPython(add_prices, remove_prices)]
