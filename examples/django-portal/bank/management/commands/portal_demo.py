"""``python manage.py portal_demo``: migrate, open the demo subscription once, say how to
log in, and run the development server on 127.0.0.1:8000."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from bank.demo import ALICE, ALICE_CODE, BOB, open_demo
from bank.models import User
from bank.securebox import portal_box


class Command(BaseCommand):
    help = "Open the demo subscription (once) and run the portal on 127.0.0.1:8000."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-server", action="store_true", help="only prepare the data")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", verbosity=0)
        box = portal_box()  # applies securebox's own migrations to its store
        if not User.objects.filter(username=ALICE.key).exists():
            with transaction.atomic():
                demo = open_demo(box)
            # A demo on a developer's machine: the credentials are shown once, here.
            self.stdout.write(
                f"Alice: client {ALICE.client_id.value}, user {ALICE.user_number.value}, "
                f"code {ALICE_CODE}; TOTP seed (add it to an authenticator application): "
                f"{demo.alice_totp.uri()}\n"
                f"Bob: client {BOB.client_id.value}, user {BOB.user_number.value}, "
                f"one-time code {demo.bob_letter.reveal()} (changed at first login); "
                f"TOTP seed: {demo.bob_totp.uri()}\n"
                f"SMS codes are written to {settings.SECUREBOX['SMS_OUTBOX']}."
            )
        else:
            self.stdout.write("The demo subscription exists (delete var/ to start again).")
        if not options["no_server"]:
            call_command("runserver", "127.0.0.1:8000", use_reloader=False)
