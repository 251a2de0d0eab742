"""Root URL map: the /v1/ API, its schema and docs, the admin and the portal."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from control_plane.accounts import urls as accounts_urls
from control_plane.core import errors
from control_plane.core import urls as core_urls
from control_plane.fleet import urls as fleet_urls
from control_plane.messaging import urls as messaging_urls
from control_plane.proxies import urls as proxies_urls
from control_plane.sessions import urls as sessions_urls
from control_plane.webhooks import urls as webhooks_urls

# One flat list, the send path first. Behind ``path("", include(...))`` Django walks
# the includes in order and, for every one that does not match, copies its patterns
# into the list of what it tried: 11 % of a send's CPU when messaging came fifth.
api_v1 = [
    *messaging_urls.urlpatterns,
    *sessions_urls.urlpatterns,
    *core_urls.urlpatterns,
    *accounts_urls.urlpatterns,
    *fleet_urls.urlpatterns,
    *webhooks_urls.urlpatterns,
    *proxies_urls.urlpatterns,
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
