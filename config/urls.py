from django.contrib import admin
from django.urls import include, path

from config import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("feeds/", include("api.feeds.urls")),
    path("", include("dispatch.web.urls")),
]

handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
