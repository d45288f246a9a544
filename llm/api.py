"""Usage API: what a user's LLM requests cost, per day and model (RecordTokenUsage)."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.requests import AuthenticatedRequest
from core.params import ascii_int
from llm import selectors


class UsageRowSerializer(serializers.Serializer):
    day = serializers.DateField()
    provider = serializers.CharField()
    model = serializers.CharField()
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=14, decimal_places=6)
    unpriced_requests = serializers.IntegerField()


class UsageAPI(APIView):
    request: AuthenticatedRequest  # the default permission, IsAuthenticated, is in force

    @extend_schema(
        operation_id="usage_list",
        parameters=[
            OpenApiParameter("days", int, description="How many days back (1-366, default 30)")
        ],
        responses={200: UsageRowSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        days = ascii_int(request.query_params.get("days", "30"))
        if days is None or not 1 <= days <= 366:
            raise ValidationError({"days": [_("A whole number of days from 1 to 366.")]})
        rows = selectors.usage_by_day_and_model(user_id=self.request.user.pk, days=days)
        return Response(UsageRowSerializer(rows, many=True).data)
