from django.apps import AppConfig


class BankConfig(AppConfig):
    name = "bank"
    verbose_name = "Business portal"
    default_auto_field = "django.db.models.BigAutoField"
