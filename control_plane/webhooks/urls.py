from django.urls import path

from control_plane.webhooks import apis

urlpatterns = [
    path("webhooks", apis.WebhookListCreateApi.as_view(), name="webhooks"),
    path("webhooks/<str:webhook_id>", apis.WebhookDetailApi.as_view(), name="webhook-detail"),
    path("webhooks/<str:webhook_id>/deliveries", apis.DeliveryListApi.as_view(), name="webhook-deliveries"),
    path(
        "webhooks/<str:webhook_id>/deliveries/<str:delivery_id>/redeliver",
        apis.DeliveryRedeliverApi.as_view(),
        name="webhook-redeliver",
    ),
]
