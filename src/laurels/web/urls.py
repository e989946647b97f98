from django.urls import path

from laurels.issuing import views as issuing_views
from laurels.web import account_views, backpack_views, import_views, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("backpack/", backpack_views.backpack, name="backpack"),
    path("backpack/import/", import_views.backpack_import, name="backpack_import"),
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
    path("account/apps/", views.connected_apps, name="connected_apps"),
    path("account/tokens/", views.personal_tokens, name="personal_tokens"),
    path("account/invitations/", issuing_views.staff_invitations, name="staff_invitations"),
]
