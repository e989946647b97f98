from django.urls import path

from laurels.openbadges import views

app_name = "openbadges"

urlpatterns = [
    path("issuers/<str:entity_id>", views.issuer, name="issuer"),
    path("issuers/<str:entity_id>/image", views.issuer_image, name="issuer_image"),
    path("issuers/<str:entity_id>/revocations", views.revocations, name="revocations"),
    path("badges/<str:entity_id>", views.badge_class, name="badge_class"),
    path("badges/<str:entity_id>/image", views.badge_class_image, name="badge_class_image"),
    path("assertions/<str:entity_id>", views.assertion, name="assertion"),
    path("assertions/<str:entity_id>/image", views.assertion_image, name="assertion_image"),
    path("keys/<str:entity_id>", views.key, name="key"),
]
