from django.urls import path

from .. import views as file_views
from . import views

urlpatterns = [
    path("cdn", views.CdnOverviewView.as_view(), name="cdn-overview"),
    path("cdn/assets", views.AssetListView.as_view(), name="cdn-assets"),
    path("cdn/assets/<int:asset_id>", views.AssetDetailView.as_view(), name="cdn-asset"),
    path("cdn/assets/<int:asset_id>/optimize", views.ReoptimizeView.as_view(), name="cdn-asset-optimize"),
    path("cdn/assets/<int:asset_id>/invalidate", views.AssetInvalidateView.as_view(), name="cdn-asset-invalidate"),
    path("cdn/invalidations", views.InvalidationListView.as_view(), name="cdn-invalidations"),
    path("cdn/invalidate", views.InvalidateView.as_view(), name="cdn-invalidate"),
    # This server's own copy of the files: the CDN's origin, and local serving with the CDN off.
    path("cdn/files/<path:key>", file_views.serve_file, name="cdn-file"),
]
