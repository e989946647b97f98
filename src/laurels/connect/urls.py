"""OAuth2 / OpenID Connect URLs at Badgr's paths (with or without a trailing slash).

The namespace and names are django-oauth-toolkit's own, because its views and metadata
documents find each other through them.
"""

from django.urls import path, re_path
from oauth2_provider import views as dot_views

from laurels.connect import views

app_name = "oauth2_provider"

urlpatterns = [
    re_path(r"^o/authorize/?$", views.AuthorizationView.as_view(), name="authorize"),
    re_path(r"^o/token/?$", views.TokenView.as_view(), name="token"),
    re_path(r"^o/revoke_token/?$", views.RevokeTokenView.as_view(), name="revoke-token"),
    re_path(r"^o/introspect/?$", views.IntrospectionView.as_view(), name="introspect"),
    re_path(r"^o/userinfo/?$", dot_views.UserInfoView.as_view(), name="user-info"),
    re_path(r"^o/jwks/?$", dot_views.JwksInfoView.as_view(), name="jwks-info"),
    re_path(r"^o/register/?$", views.SelfRegistrationView.as_view(), name="dcr-register"),
    path(
        "o/register/<str:client_id>",
        views.SelfRegistrationManagementView.as_view(),
        name="dcr-register-management",
    ),
    path(
        ".well-known/openid-configuration",
        views.OpenIDDiscoveryView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path(
        ".well-known/oauth-authorization-server",
        views.ServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
]
