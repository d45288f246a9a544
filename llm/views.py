"""The usage page: tokens and cost per day and model as charts, per project as a table."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.requests import AuthenticatedHttpRequest
from llm import selectors
from llm.charts import stacked_by_day

DAYS = 30


@login_required
def usage_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    rows = list(selectors.usage_by_day_and_model(user_id=request.user.pk, days=DAYS))
    today = timezone.localdate()
    context = {
        "rows": rows,
        "days": DAYS,
        "tokens": stacked_by_day(
            rows, value=lambda r: r.prompt_tokens + r.completion_tokens, days=DAYS, today=today
        ),
        "cost": stacked_by_day(rows, value=lambda r: r.cost, days=DAYS, today=today),
        "projects": selectors.usage_by_project(user_id=request.user.pk),
        "unpriced": sum(row.unpriced_requests for row in rows),
    }
    return render(request, "llm/usage.html", context)
