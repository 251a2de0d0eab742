from django.contrib import admin

from control_plane.fleet.models import Worker, WorkerEvent


class WorkerEventInline(admin.TabularInline):
    model = WorkerEvent
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "from_status", "to_status", "reason", "details", "created_at"]


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "status",
        "capacity",
        "last_heartbeat_at",
        "cpu_percent",
        "memory_mb",
        "version",
    ]
    list_filter = ["status", "environment"]
    search_fields = ["id", "name"]
    readonly_fields = [
        "token_prefix",
        "token_hash",
        "last_heartbeat_at",
        "session_breakdown",
        "devices",
        "created_at",
        "updated_at",
    ]
    inlines = [WorkerEventInline]


@admin.register(WorkerEvent)
class WorkerEventAdmin(admin.ModelAdmin):
    list_display = ["worker", "kind", "from_status", "to_status", "reason", "created_at"]
    list_filter = ["kind"]
