from rest_framework import serializers

from core.providers import PROVIDER_NAMES
from core.serializers import ModelSerializer
from generation.models import GenerationRun, PipelineEvent
from generation.selectors import run_queue_position


class RunSerializer(ModelSerializer):
    branch = serializers.CharField(source="branch.name", read_only=True)
    reason = serializers.CharField(read_only=True)
    stage_label = serializers.CharField(source="get_stage_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    queue_position = serializers.SerializerMethodField()

    class Meta:
        model = GenerationRun
        fields = [
            "id", "project", "branch", "provider", "model", "iteration", "status",
            "status_label", "stage", "stage_label", "progress", "question", "reason_code",
            "reason", "prompt_tokens", "completion_tokens", "cost", "llm_calls", "max_cost",
            "max_llm_calls", "last_seq", "cancel_requested", "created_at", "started_at",
            "finished_at", "heartbeat_at", "queue_position",
        ]  # fmt: skip
        read_only_fields = fields

    def get_queue_position(self, run: GenerationRun) -> int | None:
        """Queued behind the user's other runs: how many must end first (else null)."""
        return run_queue_position(run=run)


class RunStartSerializer(serializers.Serializer):
    provider = serializers.ChoiceField(choices=PROVIDER_NAMES, required=False)
    model = serializers.CharField(max_length=128, required=False, default="")
    branch = serializers.CharField(max_length=64, required=False, default="main")
    change = serializers.CharField(
        max_length=20_000, required=False, default="", trim_whitespace=True
    )


class AnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=20_000)


class EventSerializer(ModelSerializer):
    run = serializers.UUIDField(source="run_id", read_only=True)

    class Meta:
        model = PipelineEvent
        fields = ["seq", "run", "name", "payload", "created_at"]
        read_only_fields = fields
