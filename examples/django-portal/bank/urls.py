from django.urls import path

from . import views

app_name = "bank"
urlpatterns = [
    path("", views.documents, name="documents"),
    path("login/", views.login_view, name="login"),
    path("login/factor/", views.login_factor, name="login_factor"),
    path("logout/", views.logout_view, name="logout"),
    path("documents/<str:client_id>/<str:document_id>/", views.document, name="document"),
    path("payees/", views.payees, name="payees"),
    path("step-up/<str:token>/", views.step_up_page, name="step_up"),
]
