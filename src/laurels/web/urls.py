from django.urls import path

from laurels.issuing import views as issuing_views
from laurels.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("account/apps/", views.connected_apps, name="connected_apps"),
    path("account/tokens/", views.personal_tokens, name="personal_tokens"),
    path("account/invitations/", issuing_views.staff_invitations, name="staff_invitations"),
]
