from django.urls import path

from control_plane.core.apis import HealthApi

urlpatterns = [path("health", HealthApi.as_view(), name="health")]
