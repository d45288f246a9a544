"""Project API: thin views over ``projects.services`` / ``files.services``.

Every object endpoint resolves the project through ``project_get``, which answers 404
for another user's project, whatever the method (invariant 5).
"""

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.requests import AuthenticatedRequest
from core.ratelimit import rate_limit_quota_check, rate_limit_quota_use
from projects import selectors, services
from projects.models import Project
from projects.serializers import (
    ProjectRenameSerializer,
    ProjectSerializer,
    StateSerializer,
    StateSummarySerializer,
)

BRANCH_PARAM = OpenApiParameter("branch", str, description="Branch name (default main)")


class ProjectScopedMixin(generics.GenericAPIView):
    """Resolves ``project_id`` from the URL to the signed-in user's project, or 404."""

    request: AuthenticatedRequest  # the default permission, IsAuthenticated, is in force
    kwargs: dict[str, Any]

    def get_project(self) -> Project:
        return selectors.project_get(user=self.request.user, project_id=self.kwargs["project_id"])

    def get_object(self) -> Project:
        # DRF's OPTIONS metadata calls get_object() on views that take PUT or POST.
        return self.get_project()


class ProjectListAPI(generics.ListCreateAPIView):
    request: AuthenticatedRequest  # the default permission, IsAuthenticated, is in force
    serializer_class = ProjectSerializer

    def get_queryset(self) -> QuerySet[Project]:
        return selectors.project_list(user=self.request.user)

    def create(self, request: Request, *args, **kwargs) -> Response:
        quota = {"group": "projects.create", "rate": settings.RATELIMIT_PROJECTS}
        rate_limit_quota_check(request, **quota)
        data = ProjectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(owner=self.request.user, **data.validated_data)
        rate_limit_quota_use(request, **quota)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailAPI(ProjectScopedMixin, generics.GenericAPIView):
    serializer_class = ProjectSerializer

    def get(self, request: Request, project_id: str) -> Response:
        return Response(ProjectSerializer(self.get_project()).data)

    @extend_schema(request=ProjectRenameSerializer, responses={200: ProjectSerializer})
    def patch(self, request: Request, project_id: str) -> Response:
        project = self.get_project()
        data = ProjectRenameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.project_rename(project=project, name=data.validated_data["name"])
        return Response(ProjectSerializer(project).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: str) -> Response:
        services.project_delete(project=self.get_project())
        return Response(status=status.HTTP_204_NO_CONTENT)


class StateListAPI(ProjectScopedMixin, generics.ListAPIView):
    serializer_class = StateSummarySerializer

    @extend_schema(parameters=[BRANCH_PARAM])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        branch = selectors.branch_get(
            project=self.get_project(), name=self.request.query_params.get("branch")
        )
        return selectors.state_list(branch=branch).select_related("branch")


class StateDetailAPI(ProjectScopedMixin, generics.GenericAPIView):
    serializer_class = StateSerializer

    @extend_schema(parameters=[BRANCH_PARAM])
    def get(self, request: Request, project_id: str, step: int) -> Response:
        branch = selectors.branch_get(
            project=self.get_project(), name=request.query_params.get("branch")
        )
        state = generics.get_object_or_404(branch.states.select_related("branch"), step_index=step)
        return Response(StateSerializer(state).data)
