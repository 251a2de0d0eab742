from django.contrib import admin

from control_plane.webhooks.models import Delivery, DeliveryAttempt, Webhook


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "url", "session", "is_active", "created_at"]
    search_fields = ["id", "url", "owner__email"]
    exclude = ["secret_encrypted"]


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "started_at", "duration_ms", "status_code", "error", "response_excerpt"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "webhook", "event", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event"]
    inlines = [AttemptInline]
