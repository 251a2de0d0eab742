"""Worker-side session endpoints: snapshot upload and download (streamed)."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response

from control_plane.core.errors import ValidationFailed
from control_plane.fleet.apis import WorkerApi
from control_plane.sessions import snapshots
from control_plane.sessions.services_snapshots import snapshot_for_worker, snapshot_store


class OctetStreamParser(BaseParser):
    """Accepts the body without reading it; the view streams ``request.stream``."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        return {}


class WorkerSessionSnapshotApi(WorkerApi):
    parser_classes = [OctetStreamParser]
    max_body_setting = "SNAPSHOT_MAX_BYTES"  # ApiBodyLimitMiddleware's limit for this view

    @extend_schema(
        request={"application/octet-stream": bytes},
        parameters=[
            OpenApiParameter("X-Session-Generation", int, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-Snapshot-Sha256", str, OpenApiParameter.HEADER),
        ],
    )
    def put(self, request: Request, worker_id: str, session_id: str) -> Response:
        raw_generation = request.headers.get("X-Session-Generation", "")
        if not raw_generation.isdigit():
            raise ValidationFailed("The X-Session-Generation header (an integer) is required.")
        request.data  # noqa: B018 - DRF checks the content type here (415 otherwise)
        snapshot = snapshot_store(
            worker=self.worker,
            session_id=session_id,
            generation=int(raw_generation),
            stream=request._request,
            expected_sha256=request.headers.get("X-Snapshot-Sha256"),
        )
        return Response(
            {
                "session_id": snapshot.session_id,
                "size": snapshot.size,
                "sha256": snapshot.sha256,
                "generation": snapshot.generation,
                "uploaded_at": snapshot.uploaded_at,
            }
        )

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Request, worker_id: str, session_id: str) -> StreamingHttpResponse:
        snapshot = snapshot_for_worker(worker=self.worker, session_id=session_id)
        response = StreamingHttpResponse(
            snapshots.read_chunks(snapshot.blob_name), content_type="application/octet-stream"
        )
        response["Content-Length"] = str(snapshot.size)
        response["X-Snapshot-Sha256"] = snapshot.sha256
        response["X-Session-Generation"] = str(snapshot.generation)
        return response
