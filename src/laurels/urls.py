from functools import partial

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from ninja.openapi.views import openapi_view

from laurels.accounts.views import admin_login, admin_password_change
from laurels.api.api import api, api_v1
from laurels.api.docs import oauth2_redirect
from laurels.backpack.views import shared_collection
from laurels.web.oembed import oembed
from laurels.web.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("health", healthz, name="health"),  # Badgr's name for it
    path("v2/", api.urls),
    path("v1/", api_v1.urls),
    path("docs", partial(openapi_view, api=api), name="api-docs"),
    path("docs/", RedirectView.as_view(url="/docs", permanent=True)),
    path("docs/oauth2-redirect", oauth2_redirect, name="api-docs-oauth2-redirect"),
    path("admin/login/", admin_login),  # counted in the log-in limits
    path("admin/password_change/", admin_password_change),  # the account's own page
    path("admin/", admin.site.urls),
    path("accounts/", include("laurels.accounts.urls")),
    path("", include("laurels.connect.urls")),
    path("", include("laurels.api.badgeconnect")),  # Badge Connect (Open Badges 2.1)
    # Badgr's public address of a shared collection (by its share hash).
    path("public/collections/<str:share_hash>", shared_collection, name="public_collection"),
    path("public/oembed", oembed, name="public_oembed"),  # Badgr's address for it
    path("public/", include("laurels.openbadges.urls")),
    path("share/", include("laurels.backpack.urls")),
    path("lti/", include("laurels.lti.urls")),  # LTI 1.3 launch points (the platform's side)
    path("", include("laurels.web.urls")),
]

# "Log in with your institution" (accounts.institution): served only while configured.
if settings.LAURELS_OIDC:
    urlpatterns.insert(0, path("oidc/", include("laurels.accounts.institution_views")))

# 403.html and 404.html are found by Django's own handlers; 500 renders without the database.
handler500 = "laurels.web.error_views.server_error"

admin.site.site_header = "Laurels administration"
admin.site.site_title = "Laurels admin"
