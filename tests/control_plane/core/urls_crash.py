"""A URLconf with a view that crashes, to prove unexpected errors keep the envelope."""

from django.urls import include, path
from rest_framework.response import Response

from control_plane.core.apis import PublicApi


class CrashApi(PublicApi):
    def get(self, request):
        raise RuntimeError("boom")

    def post(self, request):
        return Response({"echo": request.data})


urlpatterns = [
    path("v1/crash", CrashApi.as_view()),
    path("", include("control_plane.config.urls")),
]
