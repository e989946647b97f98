from django.urls import path

from laurels.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("account/apps/", views.connected_apps, name="connected_apps"),
]
