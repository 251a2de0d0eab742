"""The customer portal (server-rendered pages with htmx) at the site root."""

from django.urls import path

from control_plane.portal.views import actions, auth, fleet, instances, keys, messages, webhooks

app_name = "portal"

instance = "instances/<slug:session_id>"

urlpatterns = [
    path("", instances.dashboard, name="dashboard"),
    path("signup", auth.signup, name="signup"),
    path("login", auth.login_view, name="login"),
    path("logout", auth.logout_view, name="logout"),
    path("account", auth.account, name="account"),
    path("account/password", auth.password_change, name="password"),
    path("instances/new", instances.instance_create, name="instance-create"),
    path(instance, instances.instance_detail, name="instance"),
    path(f"{instance}/panel", instances.instance_panel, name="instance-panel"),
    path(f"{instance}/card", instances.instance_card, name="instance-card"),
    path(f"{instance}/history", instances.instance_history, name="instance-history"),
    path(f"{instance}/qr.png", instances.instance_qr, name="instance-qr"),
    path(f"{instance}/delete", instances.instance_delete, name="instance-delete"),
    path(f"{instance}/messages", messages.instance_messages, name="instance-messages"),
    path(f"{instance}/send", messages.instance_send, name="instance-send"),
    path(f"{instance}/pairing-code", actions.instance_pairing_code, name="instance-pairing-code"),
    *[
        path(f"{instance}/{action}", actions.instance_action, {"action": action}, name=f"instance-{action}")
        for action in actions.ACTIONS
    ],
    path("keys", keys.keys, name="keys"),
    path("keys/<slug:key_id>/revoke", keys.key_revoke, name="key-revoke"),
    path("webhooks", webhooks.webhooks, name="webhooks"),
    path("webhooks/<slug:webhook_id>", webhooks.webhook_detail, name="webhook"),
    path("webhooks/<slug:webhook_id>/deliveries", webhooks.webhook_deliveries, name="webhook-deliveries"),
    path("webhooks/<slug:webhook_id>/delete", webhooks.webhook_delete, name="webhook-delete"),
    path(
        "webhooks/<slug:webhook_id>/deliveries/<slug:delivery_id>/redeliver",
        webhooks.delivery_redeliver,
        name="delivery-redeliver",
    ),
    path("fleet", fleet.fleet, name="fleet"),
    path("fleet/workers", fleet.fleet_workers, name="fleet-workers"),
    path("fleet/workers/<slug:worker_id>/drain", fleet.worker_drain, name="worker-drain"),
    path(
        "fleet/workers/<slug:worker_id>/drain/cancel",
        fleet.worker_drain,
        {"cancel": True},
        name="worker-drain-cancel",
    ),
]
