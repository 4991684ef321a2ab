from django.urls import path

from . import views

urlpatterns = [
    path("database", views.DatabaseOverviewView.as_view(), name="dbopt-overview"),
    path("database/findings/<int:finding_id>/apply", views.ApplyFindingView.as_view(), name="dbopt-apply-finding"),
    path("database/<slug:name>/collect", views.CollectView.as_view(), name="dbopt-collect"),
    path("database/<slug:name>/explain", views.ExplainView.as_view(), name="dbopt-explain"),
    path("database/<slug:name>/<slug:action>", views.DatabaseActionView.as_view(), name="dbopt-action"),
]
