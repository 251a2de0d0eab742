"""Root URL map: the /v1/ API, its schema and docs, the admin and the portal."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from control_plane.core import errors

api_v1 = [
    path("", include("control_plane.core.urls")),
    path("", include("control_plane.accounts.urls")),
    path("", include("control_plane.fleet.urls")),
    path("", include("control_plane.sessions.urls")),
    path("", include("control_plane.messaging.urls")),
    path("", include("control_plane.webhooks.urls")),
    path("", include("control_plane.proxies.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    path("", include("control_plane.portal.urls")),
]

handler400 = errors.handler400
handler403 = errors.handler403
handler404 = errors.handler404
handler500 = errors.handler500
