from rest_framework import serializers

from core.serializers import ModelSerializer
from projects.models import Branch, Project, ProjectState
from projects.services import DESCRIPTION_REQUIRED


class ProjectSerializer(ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "description", "folder_name", "created_at"]
        read_only_fields = ["id", "folder_name", "created_at"]
        extra_kwargs = {
            "description": {  # as on the page: spaces are trimmed, then none is refused
                "required": True,
                "allow_blank": False,
                "error_messages": {"required": DESCRIPTION_REQUIRED, "blank": DESCRIPTION_REQUIRED},
            }
        }


class ProjectRenameSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class BranchSerializer(ModelSerializer):
    # DRF's metaclass takes declared fields off the class, so this "parent" does not
    # shadow Field.parent as the stub believes.
    parent: "serializers.SlugRelatedField[Branch]" = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="name", read_only=True
    )

    class Meta:
        model = Branch
        fields = ["name", "parent", "forked_at_step", "created_at"]
        read_only_fields = fields


class BranchForkSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    from_branch = serializers.CharField(max_length=64, default="main")
    step = serializers.IntegerField(min_value=0)


class StateSerializer(ModelSerializer):
    branch: "serializers.SlugRelatedField[Branch]" = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )
    # What the step did, in your language. DRF's metaclass takes declared fields off the
    # class, so this does not shadow Field.label at run time; the stub cannot know that.
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]

    class Meta:
        model = ProjectState
        fields = ["branch", "step_index", "label", "is_checkpoint", "created_at", "data"]
        read_only_fields = fields


class StateSummarySerializer(StateSerializer):
    class Meta(StateSerializer.Meta):
        fields = ["branch", "step_index", "label", "is_checkpoint", "created_at"]
        read_only_fields = fields
