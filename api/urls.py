"""Each area keeps its own routes; this module only mounts them under /api/v1/."""
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

# Swagger UI from our own static files (drf-spectacular-sidecar), its start-up script a separate file so
# the Content-Security-Policy needs no inline scripts; only its small inline stylesheet is allowed.
swagger_ui = csp_update({"style-src": ["'unsafe-inline'"]})(SpectacularSwaggerSplitView.as_view(url_name="schema"))

urlpatterns = [
    path("v1/", include("api.urls_core")),
    path("v1/", include("api.urls_plans")),
    path("v1/", include("api.urls_feeds")),
    path("v1/", include("api.urls_day")),
    path("v1/", include("api.urls_notifications")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", swagger_ui, name="swagger-ui"),
]
