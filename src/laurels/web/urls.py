from django.urls import path

from laurels.issuing import views as issuing_views
from laurels.web import (
    account_delete_views,
    account_views,
    backpack_views,
    collection_views,
    import_views,
    oembed,
    two_factor_views,
    views,
)

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("backpack/", backpack_views.backpack, name="backpack"),
    path("backpack/import/", import_views.backpack_import, name="backpack_import"),
    path("backpack/collections/", collection_views.collections, name="collections"),
    path(
        "backpack/collections/<str:entity_id>/",
        collection_views.collection,
        name="collection",
    ),
    path(
        "backpack/collections/<str:entity_id>/delete/",
        collection_views.collection_delete,
        name="collection_delete",
    ),
    path(
        "backpack/badges/<str:entity_id>/collections",
        collection_views.badge_to_collection,
        name="backpack_badge_collect",
    ),
    path("oembed", oembed.oembed, name="oembed"),
    path(
        "public/collections/<str:share_hash>/embed",
        oembed.collection_embed,
        name="collection_embed",
    ),
    path("public/assertions/<str:entity_id>/embed", oembed.assertion_embed, name="assertion_embed"),
    path("backpack/badges/<str:entity_id>/", backpack_views.badge_detail, name="backpack_badge"),
    path(
        "backpack/badges/<str:entity_id>/check", backpack_views.badge_check, name="backpack_check"
    ),
    path(
        "backpack/badges/<str:entity_id>/json",
        backpack_views.badge_json_download,
        name="backpack_badge_json",
    ),
    path("account/", account_views.account_home, name="account"),
    path("account/profile/", account_views.account_profile, name="account_profile"),
    path("account/emails/", account_views.account_emails, name="account_emails"),
    path("account/export/", account_views.account_export, name="account_export"),
    path("account/delete/", account_delete_views.account_delete, name="account_delete"),
    path("account/deleted/", account_delete_views.account_deleted, name="account_deleted"),
    path("account/two-factor/", two_factor_views.two_factor_settings, name="two_factor"),
    path("account/apps/", views.connected_apps, name="connected_apps"),
    path("account/tokens/", views.personal_tokens, name="personal_tokens"),
    path("account/invitations/", issuing_views.staff_invitations, name="staff_invitations"),
]
