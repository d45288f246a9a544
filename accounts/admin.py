from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import services
from accounts.models import AccountEvent, ProviderKey, User


class ProviderKeyInline(admin.TabularInline):
    model = ProviderKey
    fields = readonly_fields = ("provider", "masked", "created_at", "updated_at")
    extra = 0
    can_delete = False

    @admin.display(description=_("key"))
    def masked(self, key: ProviderKey) -> str:
        return f"••••{key.last4}"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "is_active", "is_staff", "language", "date_joined",
                    "usage_tokens", "usage_cost"]  # fmt: skip
    list_filter = ["is_active", "is_staff", "language"]
    search_fields = ["email"]
    inlines = [ProviderKeyInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Preferences"), {"fields": ["language"]}),
        (
            _("Generation defaults"),
            {"fields": ["default_models", "run_max_cost", "run_max_llm_calls"]},
        ),
        (_("Permissions"), {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    def get_queryset(self, request):
        # All-time LLM usage from the per-day totals (reverse relation: no import of llm).
        return (
            super()
            .get_queryset(request)
            .annotate(
                tokens=Sum("token_usage__prompt_tokens") + Sum("token_usage__completion_tokens"),
                spent=Sum("token_usage__cost"),
            )
        )

    @admin.display(description=_("LLM tokens"), ordering="tokens")
    def usage_tokens(self, user) -> int:
        return user.tokens or 0

    @admin.display(description=_("LLM cost, USD"), ordering="spent")
    def usage_cost(self, user):
        return user.spent or 0


@admin.register(ProviderKey)
class ProviderKeyAdmin(admin.ModelAdmin):
    """Keys are shown masked and never decrypted here; the only change is revoking."""

    list_display = ["user", "provider", "masked", "created_at", "updated_at"]
    list_filter = ["provider"]
    search_fields = ["user__email"]
    fields = readonly_fields = ("user", "provider", "masked", "created_at", "updated_at")
    actions = ["revoke"]

    @admin.display(description=_("key"))
    def masked(self, key: ProviderKey) -> str:
        return f"••••{key.last4}"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("encrypted_key").select_related("user")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        # Revoking goes through the service so each revocation is recorded as an event.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    @admin.action(description=_("Revoke selected keys"), permissions=["delete"])
    def revoke(self, request, queryset) -> None:
        count = sum(services.key_revoke(user=k.user, provider=k.provider) for k in queryset)
        message = ngettext("%(count)d key revoked.", "%(count)d keys revoked.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)

    def delete_model(self, request, obj: ProviderKey) -> None:
        services.key_revoke(user=obj.user, provider=obj.provider)


@admin.register(AccountEvent)
class AccountEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "name", "user"]
    list_filter = ["name"]
    search_fields = ["user__email"]
    readonly_fields = ["created_at", "name", "user", "payload"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
