from django.contrib import admin

from control_plane.messaging.models import Chat, Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "session", "direction", "chat", "kind", "status", "created_at"]
    list_filter = ["direction", "status", "kind"]
    search_fields = ["id", "wa_id", "chat", "session__id"]
    readonly_fields = ["created_at", "dispatched_at", "sent_at", "delivered_at", "read_at", "failed_at"]


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    list_display = ["session", "number", "last_message_at", "messages_in", "messages_out"]
    search_fields = ["number", "session__id"]
