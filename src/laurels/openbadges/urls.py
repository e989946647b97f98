from django.urls import path

from laurels.openbadges import views

app_name = "openbadges"

urlpatterns = [
    path("issuers/<str:entity_id>/image", views.issuer_image, name="issuer_image"),
    path("badges/<str:entity_id>/image", views.badge_class_image, name="badge_class_image"),
    path("assertions/<str:entity_id>/image", views.assertion_image, name="assertion_image"),
]
