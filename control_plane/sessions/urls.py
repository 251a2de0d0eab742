from django.urls import path

from control_plane.sessions import apis

# Fixed paths come before the parameterised ones so they always win.
urlpatterns = [
    path("sessions", apis.SessionListCreateApi.as_view(), name="sessions"),
    path("sessions/stats", apis.SessionStatsApi.as_view(), name="sessions-stats"),
    path("sessions/problematic", apis.SessionProblematicApi.as_view(), name="sessions-problematic"),
    path("sessions/<str:session_id>", apis.SessionDetailApi.as_view(), name="session-detail"),
    path("sessions/<str:session_id>/connect", apis.SessionConnectApi.as_view(), name="session-connect"),
    path(
        "sessions/<str:session_id>/disconnect", apis.SessionDisconnectApi.as_view(), name="session-disconnect"
    ),
    path("sessions/<str:session_id>/logout", apis.SessionLogoutApi.as_view(), name="session-logout"),
    path("sessions/<str:session_id>/restart", apis.SessionRestartApi.as_view(), name="session-restart"),
    path("sessions/<str:session_id>/qr", apis.SessionQrApi.as_view(), name="session-qr"),
    path("sessions/<str:session_id>/qr.png", apis.SessionQrPngApi.as_view(), name="session-qr-png"),
    path(
        "sessions/<str:session_id>/pairing-code",
        apis.SessionPairingCodeApi.as_view(),
        name="session-pairing-code",
    ),
    path(
        "sessions/<str:session_id>/reset-attempts",
        apis.SessionResetAttemptsApi.as_view(),
        name="session-reset-attempts",
    ),
    path("sessions/<str:session_id>/events", apis.SessionEventsApi.as_view(), name="session-events"),
]
