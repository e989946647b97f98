"""LTI 1.3 launch points, the platform's side (mounted at /lti/)."""

from django.urls import path

from laurels.lti import views

app_name = "lti"

urlpatterns = [
    path("jwks", views.jwks, name="jwks"),
    path("launch", views.launch, name="launch"),
    path("authorize", views.authorize, name="authorize"),
]
