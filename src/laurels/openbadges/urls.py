from django.urls import path

from laurels.openbadges import views

app_name = "openbadges"

urlpatterns = [
    path("issuers/<str:entity_id>", views.issuer, name="issuer"),
    path("issuers/<str:entity_id>/image", views.issuer_image, name="issuer_image"),
    path("issuers/<str:entity_id>/revocations", views.revocations, name="revocations"),
    path("issuers/<str:entity_id>/badges", views.issuer_badges, name="issuer_badges"),
    path("badges/<str:entity_id>", views.badge_class, name="badge_class"),
    path("badges/<str:entity_id>/image", views.badge_class_image, name="badge_class_image"),
    path("badges/<str:entity_id>/criteria", views.badge_class_criteria, name="criteria"),
    path("assertions/<str:entity_id>", views.assertion, name="assertion"),
    path("assertions/<str:entity_id>/image", views.assertion_image, name="assertion_image"),
    path("assertions/<str:entity_id>/baked", views.assertion_image, name="assertion_baked"),
    path("keys/<str:entity_id>", views.key, name="key"),
]
