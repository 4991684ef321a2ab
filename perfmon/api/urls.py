from django.urls import path

from . import metrics_views, views

urlpatterns = [
    path("health", views.HealthView.as_view(), name="perfmon-health"),
    path("metrics/realtime", metrics_views.RealtimeView.as_view(), name="perfmon-realtime"),
    path("optimization", metrics_views.OptimizationView.as_view(), name="perfmon-optimization"),
]
