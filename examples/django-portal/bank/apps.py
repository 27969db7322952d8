from django.apps import AppConfig


class BankConfig(AppConfig):
    name = "bank"
    verbose_name = "Business portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401, PLC0415 - registers the system check
