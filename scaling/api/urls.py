from django.urls import path

from . import views

urlpatterns = [
    path("scaling", views.ScalingOverviewView.as_view(), name="scaling-overview"),
    path("scale", views.ScaleView.as_view(), name="scaling-scale"),
    path("scaling/<slug:group>/pause", views.PauseView.as_view(), name="scaling-pause"),
    path("scaling/<slug:group>/resume", views.ResumeView.as_view(), name="scaling-resume"),
    path("scaling/<slug:group>/metrics", views.ReportMetricsView.as_view(), name="scaling-metrics"),
    path("scaling/<slug:group>/instances/<str:instance_id>/replace", views.ReplaceInstanceView.as_view(),
         name="scaling-replace-instance"),
]
