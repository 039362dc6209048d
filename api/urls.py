"""Each area keeps its own routes; this module only mounts them under /api/v1/."""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("v1/", include("api.urls_core")),
    path("v1/", include("api.urls_plans")),
    path("v1/", include("api.urls_feeds")),
    path("v1/", include("api.urls_day")),
    path("v1/", include("api.urls_notifications")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]
