"""``{% model_select field provider %}``: a text field for a model name shown as a pick
list of the provider's priced models, its default marked. The field keeps its own
validation; a name saved earlier stays in the list."""

from django import template
from django.conf import settings
from django.forms import BoundField

from llm.selectors import models_offered

register = template.Library()


@register.inclusion_tag("llm/_model_select.html")
def model_select(field: BoundField, provider: str) -> dict:
    value = field.value() or ""
    default = settings.LLM_DEFAULT_MODELS.get(provider, "")
    names = models_offered(provider=provider, extra=(value,) if value else ())
    return {"field": field, "value": value, "options": [(n, n == default) for n in names]}
