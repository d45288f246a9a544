"""Fields built once per serializer class: each serializer still gets fields of its own,
in the request's language, answering as DRF's own ModelSerializer does."""

import pytest
from django.utils import translation
from rest_framework import serializers

from generation.serializers import RunSerializer
from projects.models import Project
from projects.serializers import ProjectSerializer
from projects.services import project_create

pytestmark = pytest.mark.django_db


class PlainProjectSerializer(serializers.ModelSerializer):
    class Meta(ProjectSerializer.Meta):
        pass


def test_each_serializer_has_fields_of_its_own(user):
    project = project_create(owner=user, name="Shop")
    first, second = ProjectSerializer(project), ProjectSerializer(project)

    assert first.fields["name"] is not second.fields["name"]
    assert first.fields["name"].parent is first and second.fields["name"].parent is second


def test_the_answer_is_drfs(user):
    project = project_create(owner=user, name="Shop", description="Sells things")

    assert ProjectSerializer(project).data == PlainProjectSerializer(project).data


def test_labels_and_errors_follow_the_active_language():
    with translation.override("en"):
        english = ProjectSerializer().fields["name"]
        too_long = ProjectSerializer(data={"name": "x" * 101})
        assert not too_long.is_valid()
        english_error = str(too_long.errors["name"][0])
    with translation.override("ru"):
        russian = ProjectSerializer().fields["name"]
        too_long = ProjectSerializer(data={"name": "x" * 101})
        assert not too_long.is_valid()
        russian_error = str(too_long.errors["name"][0])

    assert str(english.label) != str(russian.label)
    assert english_error != russian_error


def test_a_subclass_builds_its_own_fields():
    class Smaller(ProjectSerializer):
        class Meta(ProjectSerializer.Meta):
            fields = ["id", "name"]

    ProjectSerializer().fields  # noqa: B018 - the parent's fields built first
    assert list(Smaller().fields) == ["id", "name"]
    assert "queue_position" in RunSerializer().fields
    assert Project._meta.get_field("name").max_length == 100


def test_a_field_given_to_a_field_is_not_shared():
    class Tagged(ProjectSerializer):
        tags = serializers.ListField(child=serializers.CharField(), required=False)

        class Meta(ProjectSerializer.Meta):
            fields = [*ProjectSerializer.Meta.fields, "tags"]

    first, second = Tagged().fields["tags"], Tagged().fields["tags"]

    assert first.child is not second.child
    assert first.child.parent is first and second.child.parent is second
