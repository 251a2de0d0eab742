"""The customer portal (server-rendered pages with htmx)."""

urlpatterns: list = []
