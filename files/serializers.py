from rest_framework import serializers


class FileEntrySerializer(serializers.Serializer):
    path = serializers.CharField()
    content_id = serializers.CharField()
    size = serializers.IntegerField()


class FileContentSerializer(FileEntrySerializer):
    step_index = serializers.IntegerField()
    content = serializers.CharField()


class FileWriteSerializer(serializers.Serializer):
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)


class FileVersionSerializer(serializers.Serializer):
    step_index = serializers.IntegerField()
    content_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class FileDiffSerializer(serializers.Serializer):
    path = serializers.CharField()
    from_step = serializers.IntegerField()
    to_step = serializers.IntegerField()
    diff = serializers.CharField()
