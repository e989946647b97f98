from django.urls import path

from laurels.backpack import views

app_name = "backpack"

urlpatterns = [
    path("collections/<str:share_hash>", views.shared_collection, name="shared_collection"),
    path("badges/<str:entity_id>/image", views.imported_image, name="imported_image"),
]
