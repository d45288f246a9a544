"""Run API: start, watch, answer and stop generations. Thin views over services."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.requests import AuthenticatedRequest
from core.params import ascii_int
from generation import selectors, services
from generation.models import GenerationRun
from generation.serializers import (
    AnswerSerializer,
    EventSerializer,
    RunSerializer,
    RunStartSerializer,
)
from llm.keys import provider_default
from projects.api import ProjectScopedMixin
from projects.selectors import branch_get


class ProjectRunsAPI(ProjectScopedMixin, generics.ListCreateAPIView):
    serializer_class = RunSerializer

    def get_queryset(self) -> QuerySet[GenerationRun]:
        return selectors.run_list(project=self.get_project())

    @extend_schema(request=RunStartSerializer, responses={201: RunSerializer})
    def create(self, request: Request, project_id: str) -> Response:
        project = self.get_project()
        data = RunStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        options = data.validated_data
        provider = options.get("provider") or provider_default(user_id=self.request.user.pk)
        branch = branch_get(project=project, name=options["branch"])
        run = services.run_start(
            project=project, user=self.request.user, provider=provider, model=options["model"],
            branch=branch, change=options["change"],
        )  # fmt: skip
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED)


class RunScopedMixin(generics.GenericAPIView):
    request: AuthenticatedRequest  # the default permission, IsAuthenticated, is in force
    kwargs: dict[str, Any]

    def get_object(self) -> GenerationRun:
        return selectors.run_get(user=self.request.user, run_id=self.kwargs["run_id"])


class RunDetailAPI(RunScopedMixin, generics.RetrieveAPIView):
    serializer_class = RunSerializer


class RunCancelAPI(RunScopedMixin, generics.GenericAPIView):
    serializer_class = RunSerializer

    @extend_schema(request=None, responses={200: RunSerializer})
    def post(self, request: Request, run_id: str) -> Response:
        run = services.run_cancel(run=self.get_object())
        return Response(RunSerializer(run).data)


class RunAnswerAPI(RunScopedMixin, generics.GenericAPIView):
    serializer_class = AnswerSerializer

    @extend_schema(request=AnswerSerializer, responses={200: RunSerializer})
    def post(self, request: Request, run_id: str) -> Response:
        run = self.get_object()
        data = AnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.run_answer(run=run, answer=data.validated_data["answer"])
        return Response(RunSerializer(run).data)


AFTER = OpenApiParameter("after", int, description="Only events with a larger sequence number")


class RunEventsAPI(RunScopedMixin, generics.GenericAPIView):
    serializer_class = EventSerializer

    @extend_schema(parameters=[AFTER], responses={200: EventSerializer(many=True)})
    def get(self, request: Request, run_id: str) -> Response:
        run = self.get_object()
        after = ascii_int(request.query_params.get("after", "0"))
        if after is None:
            detail = {"after": [_("A sequence number (0 or more) is expected.")]}
            raise ValidationError(detail)
        rows = selectors.run_events(run=run, after=after)
        return Response(EventSerializer(rows, many=True).data)
