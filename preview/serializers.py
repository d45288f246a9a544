from rest_framework import serializers

from preview import reasons
from preview.models import Preview
from preview.tokens import entry_url, preview_url


class PreviewStartSerializer(serializers.Serializer):
    branch = serializers.CharField(required=False, default="main", max_length=100)
    step = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0)


class PreviewSerializer(serializers.ModelSerializer):
    branch = serializers.CharField(source="branch.name", read_only=True)
    step = serializers.IntegerField(source="state.step_index", read_only=True)
    reason = serializers.CharField(source="reason_code", read_only=True)
    reason_text = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    open_url = serializers.SerializerMethodField(
        help_text="The preview's address with a token valid for a minute: the way in."
    )

    class Meta:
        model = Preview
        fields = [
            "id", "status", "branch", "step", "follows_branch", "run_command", "port", "reason",
            "reason_text", "exit_code", "output_tail", "restarts", "url", "open_url",
            "created_at", "ready_at", "stopped_at", "last_request_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_reason_text(self, preview: Preview) -> str:
        return reasons.reason_text(preview.reason_code, preview.reason_params)

    def get_url(self, preview: Preview) -> str:
        return preview_url(preview.pk)

    def get_open_url(self, preview: Preview) -> str | None:
        return entry_url(preview.pk, preview.owner_id) if preview.active else None
