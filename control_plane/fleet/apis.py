"""Fleet endpoints: worker self-service (register, heartbeat, recovery) and operators."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane.core.apis import OperatorApi
from control_plane.core.auth import WrongCredentialGuard
from control_plane.core.credentials import CredentialKind
from control_plane.core.errors import ValidationFailed
from control_plane.fleet import selectors, services
from control_plane.fleet.auth import EnrollmentTokenAuthentication, IsThisWorker, WorkerTokenAuthentication
from control_plane.fleet.models import Worker
from control_plane.fleet.monitor import fleet_health_check
from control_plane.fleet.serializers import (
    HeartbeatInput,
    RecoveryStatusInput,
    RegisterInput,
    WorkerConfigInput,
    WorkerCreateInput,
    WorkerEventOutput,
    WorkerOutput,
)
from control_plane.sessions.drain import drain_report

RegistrationOutput = inline_serializer(
    "WorkerRegistration",
    {
        "worker_id": serializers.CharField(),
        "token": serializers.CharField(),
        "heartbeat_interval": serializers.IntegerField(),
        "recovery_required": serializers.BooleanField(),
        "assigned_session_count": serializers.IntegerField(),
    },
)


class WorkerApi(APIView):
    """Endpoints a worker calls with its own token, for its own id only."""

    authentication_classes = [WorkerTokenAuthentication, WrongCredentialGuard]
    permission_classes = [IsAuthenticated, IsThisWorker]
    accepted_credentials = frozenset({CredentialKind.WORKER})

    @property
    def worker(self) -> Worker:
        return self.request.auth


class WorkerRegisterApi(APIView):
    authentication_classes = [EnrollmentTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=RegisterInput, responses={200: RegistrationOutput, 201: RegistrationOutput})
    def post(self, request: Request) -> Response:
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.worker_register(**data.validated_data)
        body = {
            key: result[key]
            for key in ("token", "heartbeat_interval", "recovery_required", "assigned_session_count")
        }
        return Response(
            {"worker_id": result["worker"].id, **body},
            status=status.HTTP_201_CREATED if result["created"] else status.HTTP_200_OK,
        )


class WorkerHeartbeatApi(WorkerApi):
    @extend_schema(
        request=HeartbeatInput,
        responses={
            200: inline_serializer(
                "HeartbeatAck",
                {"status": serializers.CharField(), "heartbeat_interval": serializers.IntegerField()},
            )
        },
    )
    def post(self, request: Request, worker_id: str) -> Response:
        data = HeartbeatInput(data=request.data)
        data.is_valid(raise_exception=True)
        worker = services.worker_heartbeat(worker=self.worker, **data.validated_data)
        from django.conf import settings

        return Response({"status": worker.status, "heartbeat_interval": settings.HEARTBEAT_INTERVAL})


class WorkerAssignedSessionsApi(WorkerApi):
    def get(self, request: Request, worker_id: str) -> Response:
        sessions = selectors.worker_assigned_sessions(worker=self.worker)
        return Response({"worker_id": self.worker.id, "count": len(sessions), "sessions": sessions})


class WorkerRecoveryStatusApi(WorkerApi):
    @extend_schema(request=RecoveryStatusInput)
    def post(self, request: Request, worker_id: str) -> Response:
        data = RecoveryStatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(services.worker_recovery_report(worker=self.worker, **data.validated_data))


class WorkerListCreateApi(OperatorApi):
    @extend_schema(responses={200: WorkerOutput(many=True)})
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status")
        if wanted and wanted not in Worker.Status.values:
            raise ValidationFailed(f"status must be one of {', '.join(Worker.Status.values)}.")
        workers = selectors.worker_list(status=wanted)
        return Response({"results": WorkerOutput(workers, many=True).data})

    @extend_schema(request=WorkerCreateInput, responses={201: WorkerOutput})
    def post(self, request: Request) -> Response:
        data = WorkerCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        worker, token = services.worker_create(**data.validated_data)
        return Response({**WorkerOutput(worker).data, "token": token}, status=status.HTTP_201_CREATED)


class WorkerDetailApi(OperatorApi):
    @extend_schema(responses={200: WorkerOutput})
    def get(self, request: Request, worker_id: str) -> Response:
        worker = selectors.worker_get(worker_id=worker_id)
        events = WorkerEventOutput(selectors.worker_events(worker=worker), many=True).data
        return Response({**WorkerOutput(worker).data, "events": events, "drain": drain_report(worker=worker)})

    @extend_schema(request=WorkerConfigInput, responses={200: WorkerOutput})
    def put(self, request: Request, worker_id: str) -> Response:
        worker = selectors.worker_get(worker_id=worker_id)
        data = WorkerConfigInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            WorkerOutput(services.worker_update_config(worker=worker, **data.validated_data)).data
        )

    def delete(self, request: Request, worker_id: str) -> Response:
        services.worker_delete(worker=selectors.worker_get(worker_id=worker_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkerDrainApi(OperatorApi):
    """``POST``: start draining (sessions move away one by one); ``GET``: progress."""

    @extend_schema(request=None, responses={200: WorkerOutput})
    def post(self, request: Request, worker_id: str) -> Response:
        worker = services.worker_drain(worker=selectors.worker_get(worker_id=worker_id))
        return Response({**WorkerOutput(worker).data, "drain": drain_report(worker=worker)})

    def get(self, request: Request, worker_id: str) -> Response:
        return Response(drain_report(worker=selectors.worker_get(worker_id=worker_id)))


class WorkerDrainCancelApi(OperatorApi):
    @extend_schema(request=None, responses={200: WorkerOutput})
    def post(self, request: Request, worker_id: str) -> Response:
        worker = services.worker_drain_cancel(worker=selectors.worker_get(worker_id=worker_id))
        return Response(WorkerOutput(worker).data)


class FleetHealthCheckApi(OperatorApi):
    @extend_schema(request=None)
    def post(self, request: Request) -> Response:
        return Response({"results": fleet_health_check()})


class FleetStatisticsApi(OperatorApi):
    def get(self, request: Request) -> Response:
        return Response(selectors.fleet_statistics())
