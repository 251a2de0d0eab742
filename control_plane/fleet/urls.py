from django.urls import path

from control_plane.fleet import apis
from control_plane.sessions.apis_worker import WorkerSessionSnapshotApi

# Fixed paths come before the parameterised ones so they always win.
urlpatterns = [
    path("workers", apis.WorkerListCreateApi.as_view(), name="workers"),
    path("workers/register", apis.WorkerRegisterApi.as_view(), name="worker-register"),
    path("workers/statistics", apis.FleetStatisticsApi.as_view(), name="workers-statistics"),
    path("workers/health-check", apis.FleetHealthCheckApi.as_view(), name="workers-health-check"),
    path("workers/<str:worker_id>", apis.WorkerDetailApi.as_view(), name="worker-detail"),
    path("workers/<str:worker_id>/heartbeat", apis.WorkerHeartbeatApi.as_view(), name="worker-heartbeat"),
    path("workers/<str:worker_id>/drain", apis.WorkerDrainApi.as_view(), name="worker-drain"),
    path(
        "workers/<str:worker_id>/drain/cancel",
        apis.WorkerDrainCancelApi.as_view(),
        name="worker-drain-cancel",
    ),
    path(
        "workers/<str:worker_id>/sessions/assigned",
        apis.WorkerAssignedSessionsApi.as_view(),
        name="worker-assigned-sessions",
    ),
    path(
        "workers/<str:worker_id>/sessions/recovery-status",
        apis.WorkerRecoveryStatusApi.as_view(),
        name="worker-recovery-status",
    ),
    path(
        "workers/<str:worker_id>/sessions/<str:session_id>/snapshot",
        WorkerSessionSnapshotApi.as_view(),
        name="worker-session-snapshot",
    ),
]
