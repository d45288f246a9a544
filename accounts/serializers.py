from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import Provider, ProviderKey, User


class CredentialsSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "language", "date_joined"]
        read_only_fields = fields


class TokenSerializer(serializers.Serializer):
    access = serializers.CharField()
    token_type = serializers.CharField()
    expires_at = serializers.DateTimeField()


class KeyInputSerializer(serializers.Serializer):
    provider = serializers.ChoiceField(choices=Provider.choices)
    api_key = serializers.CharField(
        max_length=512, write_only=True, help_text=_("The provider's secret key.")
    )


class KeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ProviderKey
        fields = ["provider", "last4", "created_at", "updated_at"]
        read_only_fields = fields
