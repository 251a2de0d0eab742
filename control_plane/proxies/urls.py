from django.urls import path

from control_plane.proxies import apis

urlpatterns = [
    path("proxies", apis.ProxyListCreateApi.as_view(), name="proxies"),
    path("proxies/<str:proxy_id>", apis.ProxyDetailApi.as_view(), name="proxy-detail"),
    path("proxies/<str:proxy_id>/rotate", apis.ProxyRotateApi.as_view(), name="proxy-rotate"),
    path("proxies/<str:proxy_id>/check", apis.ProxyCheckApi.as_view(), name="proxy-check"),
]
