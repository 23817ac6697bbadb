from django.conf import settings
from django.urls import path

from stammtisch.links import views, views_public, views_seo

app_name = "links"

urlpatterns = [
    path("l/<str:code>", views_public.go, name="go"),
    path("c/<str:site_key>.js", views_public.snippet, name="snippet"),
    path("c/<str:site_key>/hit", views_public.hit, name="hit"),
    path("c/<str:site_key>/conversions", views_public.server_conversion, name="server_conversion"),
    path("bio/<slug:slug>/", views_public.bio, name="bio"),
    path("embed/<slug:slug>/follow/", views_public.embed_follow, name="embed_follow"),
    path("embed/<slug:slug>/follow.js", views_public.embed_follow_js, name="embed_follow_js"),
    path("embed/<slug:slug>/promo/", views_public.embed_promo, name="embed_promo"),
    path("embed/<slug:slug>/promo.js", views_public.embed_promo_js, name="embed_promo_js"),
    path("w/<slug:slug>/links/", views.link_list, name="list"),
    path("w/<slug:slug>/links/new/", views.link_create, name="create"),
    path("w/<slug:slug>/links/conversions/", views.conversion_list, name="conversions"),
    path("w/<slug:slug>/links/settings/", views.link_settings, name="settings"),
    path("w/<slug:slug>/links/seo/", views_seo.seo_overview, name="seo"),
    path("w/<slug:slug>/links/seo/page/", views_seo.seo_page, name="seo_page"),
    path("w/<slug:slug>/links/seo/import/", views_seo.seo_import_upload, name="seo_import"),
    path("w/<slug:slug>/links/seo/import/confirm/", views_seo.seo_import_confirm, name="seo_import_confirm"),
    path("w/<slug:slug>/links/seo/import/delete/", views_seo.seo_import_delete, name="seo_import_delete"),
    path("w/<slug:slug>/links/settings/secret/", views.rotate_secret, name="rotate_secret"),
    path("w/<slug:slug>/links/<int:short_link_id>/", views.link_detail, name="detail"),
    path("w/<slug:slug>/links/<int:short_link_id>/edit/", views.link_edit, name="edit"),
    path("w/<slug:slug>/links/<int:short_link_id>/delete/", views.link_delete, name="delete"),
    path("w/<slug:slug>/links/<int:short_link_id>/qr.svg", views.link_qr_svg, name="qr_svg"),
    path("w/<slug:slug>/links/<int:short_link_id>/qr.png", views.link_qr_png, name="qr_png"),
]

if settings.BENCH_BASELINE_VIEW:  # `stammtisch bench redirect` only; never for users
    urlpatterns.append(path("l-baseline/<str:code>", views_public.bench_baseline, name="bench_baseline"))
