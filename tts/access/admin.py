from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from .models import ApiKey, AuditEntry

# The library's own (limitless) key model is not used here: ours carries per-key limits.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "is_admin", "requests_per_minute",
                    "audio_seconds_per_day")
    list_filter = (*APIKeyModelAdmin.list_filter, "is_admin")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created", "action", "key_prefix", "client_ip", "model", "voice",
                    "text_chars", "audio_seconds", "status", "outcome")
    list_filter = ("action", "outcome", "model")
    search_fields = ("key_prefix", "request_id", "ref_sha256", "voice")

    def has_add_permission(self, request):  # the log is written by the server only
        return False

    def has_change_permission(self, request, obj=None):
        return False
