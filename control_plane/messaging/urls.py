from django.urls import path

from control_plane.messaging import apis

urlpatterns = [
    path("sessions/<str:session_id>/messages", apis.SessionMessagesApi.as_view(), name="session-messages"),
    path("messages/<str:message_id>", apis.MessageDetailApi.as_view(), name="message-detail"),
]
