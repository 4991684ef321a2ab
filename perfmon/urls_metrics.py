"""Included at the top level by config/urls.py: `path("", include("perfmon.urls_metrics"))`."""
from django.urls import path

from .prometheus import metrics_view

urlpatterns = [
    path("metrics", metrics_view, name="metrics"),
]
