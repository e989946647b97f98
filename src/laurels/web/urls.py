from django.urls import path

from laurels.issuing import views as issuing_views
from laurels.web import (
    account_delete_views,
    account_views,
    award_detail_views,
    award_views,
    awards_list_views,
    backpack_views,
    badge_class_views,
    collection_views,
    developer_views,
    import_views,
    issuer_views,
    oembed,
    two_factor_views,
    views,
)

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("issuers/<str:issuer>/awards/", awards_list_views.awards_list, name="awards_list"),
    path(
        "issuers/<str:issuer>/awards/export.csv",
        awards_list_views.awards_export,
        name="awards_export",
    ),
    path(
        "issuers/<str:issuer>/awards/revoke/",
        awards_list_views.awards_revoke_selected,
        name="awards_revoke_selected",
    ),
    path(
        "issuers/<str:issuer>/awards/<str:award>/revoke/",
        awards_list_views.award_revoke,
        name="awards_revoke",
    ),
    # One award, issuer side (issue 20): after awards/revoke/, which it would shadow.
    path(
        "issuers/<str:issuer>/awards/<str:award>/",
        award_detail_views.award_detail,
        name="award_detail",
    ),
    path(
        "issuers/<str:issuer>/badges/<str:badge>/awards/",
        awards_list_views.awards_list,
        name="awards_badge_list",
    ),
    path(
        "issuers/<str:issuer>/badges/<str:badge>/awards/export.csv",
        awards_list_views.awards_export,
        name="awards_badge_export",
    ),
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
    # The developer portal (issue 18, E): the signed-in person's own apps.
    path("developer/apps/", developer_views.developer_apps, name="developer_apps"),
    path("developer/apps/new/", developer_views.developer_app_new, name="developer_app_new"),
    path("developer/apps/<str:client_id>/", developer_views.developer_app, name="developer_app"),
    path(
        "developer/apps/<str:client_id>/rotate/",
        developer_views.developer_app_rotate,
        name="developer_app_rotate",
    ),
    path(
        "developer/apps/<str:client_id>/delete/",
        developer_views.developer_app_delete,
        name="developer_app_delete",
    ),
    # Its LTI launch points (issue 20).
    path(
        "developer/apps/<str:client_id>/lti/",
        developer_views.developer_app_lti,
        name="developer_app_lti",
    ),
    path(
        "developer/apps/<str:client_id>/lti/delete/",
        developer_views.developer_app_lti_delete,
        name="developer_app_lti_delete",
    ),
    path(
        "developer/apps/<str:client_id>/lti/lti11-secret/",
        developer_views.developer_app_lti11_secret,
        name="developer_app_lti11_secret",
    ),
    # The issuer workspace (issue 18, A): issuers, their staff, dashboard.
    path("issuers/", issuer_views.issuers, name="issuers"),
    path("issuers/new/", issuer_views.issuer_new, name="issuer_new"),
    path("issuers/<str:entity_id>/", issuer_views.issuer_dashboard, name="issuer_dashboard"),
    path("issuers/<str:entity_id>/edit/", issuer_views.issuer_edit, name="issuer_edit"),
    path("issuers/<str:entity_id>/staff/", issuer_views.issuer_staff, name="issuer_staff"),
    path("issuers/<str:entity_id>/delete/", issuer_views.issuer_delete, name="issuer_delete"),
    path(
        "issuers/<str:entity_id>/verify-domain/",
        issuer_views.issuer_verify_domain,
        name="issuer_verify_domain",
    ),
    # Badge classes (issue 18, B).
    path(
        "issuers/markdown-preview",
        badge_class_views.markdown_preview,
        name="badge_class_markdown_preview",
    ),
    path(
        "issuers/<str:issuer_id>/badges/",
        badge_class_views.badge_classes,
        name="badge_class_list",
    ),
    path(
        "issuers/<str:issuer_id>/badges/new/",
        badge_class_views.badge_class_new,
        name="badge_class_new",
    ),
    path(
        "issuers/<str:issuer_id>/badges/<str:badge_id>/",
        badge_class_views.badge_class_detail,
        name="badge_class_detail",
    ),
    path(
        "issuers/<str:issuer_id>/badges/<str:badge_id>/edit/",
        badge_class_views.badge_class_edit,
        name="badge_class_edit",
    ),
    path(
        "issuers/<str:issuer_id>/badges/<str:badge_id>/delete/",
        badge_class_views.badge_class_delete,
        name="badge_class_delete",
    ),
    # Awarding (issue 18, C): one award, a CSV batch, its progress and results.
    path(
        "issuers/<str:issuer_id>/badges/<str:badge_id>/award/",
        award_views.award_single,
        name="award_single",
    ),
    path(
        "issuers/<str:issuer_id>/badges/<str:badge_id>/award/csv/",
        award_views.award_csv,
        name="award_csv",
    ),
    path(
        "issuers/<str:issuer_id>/batches/<str:batch_id>/",
        award_views.batch_detail,
        name="batch_detail",
    ),
    path(
        "issuers/<str:issuer_id>/batches/<str:batch_id>/results.csv",
        award_views.batch_results_csv,
        name="batch_results_csv",
    ),
]
