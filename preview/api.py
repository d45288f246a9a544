"""Preview API: start, look at and stop the project's preview. Thin views over services."""

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from preview import selectors, services
from preview.serializers import PreviewSerializer, PreviewStartSerializer
from projects.api import ProjectScopedMixin
from projects.models import ProjectState
from projects.selectors import branch_get


class ProjectPreviewAPI(ProjectScopedMixin, generics.GenericAPIView):
    serializer_class = PreviewSerializer

    @extend_schema(responses={200: PreviewSerializer})
    def get(self, request: Request, project_id: str) -> Response:
        """The running preview, else the last one (how it ended); ``{"status": "none"}``
        when the project never had one."""
        preview = selectors.preview_latest(project=self.get_project())
        if preview is None:
            return Response({"status": "none", "detail": _("This project has no preview yet.")})
        return Response(PreviewSerializer(preview).data)

    @extend_schema(request=PreviewStartSerializer, responses={201: PreviewSerializer})
    def post(self, request: Request, project_id: str) -> Response:
        project = self.get_project()
        data = PreviewStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        branch = branch_get(project=project, name=data.validated_data["branch"])
        try:
            preview = services.preview_start(
                project=project, user=self.request.user, branch=branch,
                step=data.validated_data["step"],
            )  # fmt: skip
        except ProjectState.DoesNotExist as exc:
            raise Http404 from exc
        return Response(PreviewSerializer(preview).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: PreviewSerializer})
    def delete(self, request: Request, project_id: str) -> Response:
        preview = selectors.preview_latest(project=self.get_project())
        if preview is None:
            raise Http404
        return Response(PreviewSerializer(services.preview_stop(preview=preview)).data)
