from django.contrib import admin

from control_plane.sessions.models import Session, SessionStatusChange


class StatusChangeInline(admin.TabularInline):
    model = SessionStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "reason", "worker_id", "generation", "created_at"]


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "name", "status", "phone", "worker", "generation", "last_activity"]
    list_filter = ["status"]
    search_fields = ["id", "name", "phone", "owner__email"]
    readonly_fields = ["qr", "created_at", "updated_at"]
    inlines = [StatusChangeInline]
