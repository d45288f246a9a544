"""File API: the tree, any file at any step, user edits, history, diffs and the zip."""

from django.http import Http404, StreamingHttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError as APIValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core.params import ascii_int
from files import selectors, services
from files.archive import zip_stream
from files.serializers import (
    FileContentSerializer,
    FileDiffSerializer,
    FileEntrySerializer,
    FileVersionSerializer,
    FileWriteSerializer,
)
from projects.api import BRANCH_PARAM, ProjectScopedMixin
from projects.models import Branch, ProjectState
from projects.selectors import branch_get
from projects.serializers import BranchForkSerializer, BranchSerializer

STEP_PARAM = OpenApiParameter("step", int, description="Step index (default: the latest)")


def _step(raw: str | None, field: str = "step") -> int | None:
    if raw in (None, ""):
        return None
    step = ascii_int(raw)
    if step is None:
        raise APIValidationError({field: [_("A step is a whole number from 0.")]})
    return step


class FileScopedView(ProjectScopedMixin, generics.GenericAPIView):
    pagination_class = None

    def get_branch(self) -> Branch:
        return branch_get(project=self.get_project(), name=self.request.query_params.get("branch"))

    def get_state_to_read(self, step: int | None) -> ProjectState:
        """The state whose files a GET reads: the project, the branch and the step at once."""
        try:
            return selectors.state_get_owned(
                user=self.request.user,
                project_id=self.kwargs["project_id"],
                branch=self.request.query_params.get("branch"),
                step=step,
            )
        except ProjectState.DoesNotExist as exc:
            raise Http404 from exc

    def get_state(self, branch: Branch, step: int | None) -> ProjectState:
        try:
            return selectors.state_get(branch=branch, step=step)
        except ProjectState.DoesNotExist as exc:
            raise Http404 from exc

    def read(self, state: ProjectState, path: str):
        try:
            return selectors.file_read(state=state, path=path)
        except selectors.FileNotInState as exc:
            raise Http404 from exc


class BranchListAPI(ProjectScopedMixin, generics.GenericAPIView):
    serializer_class = BranchSerializer
    pagination_class = None

    @extend_schema(operation_id="branches_list", responses={200: BranchSerializer(many=True)})
    def get(self, request: Request, project_id: str) -> Response:
        branches = self.get_project().branches.select_related("parent").order_by("created_at")
        return Response(BranchSerializer(branches, many=True).data)

    @extend_schema(request=BranchForkSerializer, responses={201: BranchSerializer})
    def post(self, request: Request, project_id: str) -> Response:
        """Branch from a step: a new branch that starts as ``from_branch`` was at ``step``."""
        project = self.get_project()
        data = BranchForkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        source = branch_get(project=project, name=data.validated_data["from_branch"])
        if not source.states.filter(step_index=data.validated_data["step"]).exists():
            raise APIValidationError({"step": [_("No such step on this branch.")]})
        branch = services.branch_fork(
            source=source, step=data.validated_data["step"], name=data.validated_data["name"]
        )
        return Response(BranchSerializer(branch).data, status=status.HTTP_201_CREATED)


class FileTreeAPI(FileScopedView):
    serializer_class = FileEntrySerializer

    @extend_schema(
        operation_id="files_tree",
        parameters=[BRANCH_PARAM, STEP_PARAM],
        responses={200: FileEntrySerializer(many=True)},
    )
    def get(self, request: Request, project_id: str) -> Response:
        state = self.get_state_to_read(_step(request.query_params.get("step")))
        rows = [
            {"path": p, "content_id": h, "size": size}
            for p, h, size in selectors.state_files(state=state)
        ]
        return Response(FileEntrySerializer(rows, many=True).data)


class FileContentAPI(FileScopedView):
    serializer_class = FileContentSerializer

    def _body(self, state: ProjectState, path: str) -> dict:
        content = self.read(state, path)
        return {
            "path": path,
            "step_index": state.step_index,
            "content_id": content.pk,
            "size": content.size,
            "content": content.text,
        }

    @extend_schema(operation_id="file_read", parameters=[BRANCH_PARAM, STEP_PARAM])
    def get(self, request: Request, project_id: str, path: str) -> Response:
        state = self.get_state_to_read(_step(request.query_params.get("step")))
        return Response(self._body(state, path))

    @extend_schema(
        parameters=[BRANCH_PARAM],
        request=FileWriteSerializer,
        responses={200: FileContentSerializer},
    )
    def put(self, request: Request, project_id: str, path: str) -> Response:
        """Save a user edit as the branch's next step."""
        data = FileWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        state = services.file_save(
            branch=self.get_branch(), path=path, text=data.validated_data["content"]
        )
        return Response(self._body(state, path))

    @extend_schema(operation_id="file_delete", parameters=[BRANCH_PARAM], responses={204: None})
    def delete(self, request: Request, project_id: str, path: str) -> Response:
        branch = self.get_branch()
        self.read(self.get_state(branch, None), path)  # 404 for a file that is not there
        services.file_delete(branch=branch, path=path)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FileHistoryAPI(FileScopedView):
    serializer_class = FileVersionSerializer

    @extend_schema(
        operation_id="file_history",
        parameters=[BRANCH_PARAM],
        responses={200: FileVersionSerializer(many=True)},
    )
    def get(self, request: Request, project_id: str, path: str) -> Response:
        changes = selectors.file_changes(branch=self.get_branch(), path=path)
        if not changes:
            raise Http404
        rows = [
            {
                "step_index": c.state.step_index,
                "content_id": c.content_id,
                "created_at": c.state.created_at,
            }
            for c in changes
        ]
        return Response(FileVersionSerializer(rows, many=True).data)


class FileDiffAPI(FileScopedView):
    serializer_class = FileDiffSerializer

    @extend_schema(
        operation_id="file_diff",
        parameters=[
            BRANCH_PARAM,
            OpenApiParameter("from", int, required=True),
            OpenApiParameter("to", int, description="default: the latest step"),
        ],
    )
    def get(self, request: Request, project_id: str, path: str) -> Response:
        branch = self.get_branch()
        from_step = _step(request.query_params.get("from"), "from")
        if from_step is None:
            raise APIValidationError({"from": [_("This parameter is required.")]})
        old_state = self.get_state(branch, from_step)
        new_state = self.get_state(branch, _step(request.query_params.get("to"), "to"))
        old = selectors.file_version(state=old_state, path=path)
        new = selectors.file_version(state=new_state, path=path)
        if old is None and new is None:
            raise Http404
        body = {
            "path": path,
            "from_step": old_state.step_index,
            "to_step": new_state.step_index,
            "diff": selectors.file_diff(old=old, new=new, path=path),
        }
        return Response(FileDiffSerializer(body).data)


class DownloadAPI(FileScopedView):
    @extend_schema(
        operation_id="project_download",
        parameters=[BRANCH_PARAM, STEP_PARAM],
        responses={(200, "application/zip"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, project_id: str) -> StreamingHttpResponse:
        branch = self.get_branch()
        state = self.get_state(branch, _step(request.query_params.get("step")))
        folder = branch.project.folder_name
        entries = ((f"{folder}/{path}", text) for path, text in selectors.state_texts(state=state))
        response = StreamingHttpResponse(zip_stream(entries), content_type="application/zip")
        filename = f"{folder}-{branch.name}-step{state.step_index}.zip"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
