from django.urls import path

from . import views

urlpatterns = [
    path("settings", views.SettingsView.as_view(), name="ops-settings"),
    path("alerts", views.AlertListView.as_view(), name="ops-alerts"),
    path("alerts/<int:pk>/acknowledge", views.AlertAcknowledgeView.as_view(), name="ops-alert-ack"),
    path("silences", views.SilenceListView.as_view(), name="ops-silences"),
    path("silences/<int:pk>/expire", views.SilenceExpireView.as_view(), name="ops-silence-expire"),
    path("recommendations", views.RecommendationListView.as_view(), name="ops-recommendations"),
    path("recommendations/<int:pk>/apply", views.RecommendationActionView.as_view(verb="apply"),
         name="ops-recommendation-apply"),
    path("recommendations/<int:pk>/dismiss", views.RecommendationActionView.as_view(verb="dismiss"),
         name="ops-recommendation-dismiss"),
    path("dashboard", views.DashboardView.as_view(), name="ops-dashboard"),
    path("reports", views.ReportView.as_view(), name="ops-reports"),
    path("optimize", views.OptimizeView.as_view(), name="ops-optimize"),
    path("optimize/<int:pk>", views.OptimizeStatusView.as_view(), name="ops-optimize-status"),
]
