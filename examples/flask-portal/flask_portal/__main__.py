"""``python3 -m flask_portal``: the portal on http://127.0.0.1:5000 with two demo customers,
each with a CAP card in the demo reader (``/demo/reader``); a fresh instance folder each run
unless ``--instance`` names one."""

from __future__ import annotations

import argparse
import secrets
import tempfile
from pathlib import Path

from securebox_auth import Principal
from securebox_auth.emv.issuer import SoftwareIssuerKeys

from flask_portal import PortalSettings, create_app
from flask_portal.backoffice import open_customer, record_card
from flask_portal.card_issuer import issue_cap_card
from flask_portal.demo import CARDS
from flask_portal.portal import EXTENSION, Portal

__all__ = ["main"]

CLIENT = "123456789"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python3 -m flask_portal", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--instance", type=Path, default=None)
    args = parser.parse_args(argv)
    instance = args.instance or Path(tempfile.mkdtemp(prefix="flask-portal-"))
    issuer = SoftwareIssuerKeys.generate()
    settings = PortalSettings(
        instance=instance,
        master_key="m1:" + secrets.token_hex(32),
        cap_issuer=issuer,
        secure_cookies=False,  # plain HTTP on loopback
        demo=True,
    )
    app = create_app(settings)
    portal: Portal = app.extensions[EXTENSION]
    lines = []
    for user, name in (("01", "Claire Martin"), ("02", "Paul Durand")):
        who = Principal.parse(CLIENT, user)
        one_time = open_customer(portal, who, name)
        card = issue_cap_card(
            portal.box, issuer, who, directory=instance / CARDS, card_id=f"card-{user}"
        )
        record_card(portal, who, card.card_id)
        lines.append(
            f"  {CLIENT} / {user} ({name}): one-time code {one_time.reveal()}, "
            f"CAP card {card.card_id} with PIN {card.pin}"
        )
    print(f"Instance folder: {instance}")
    print("Customers (log in at /login; compute reader codes at /demo/reader):")
    print("\n".join(lines))
    app.run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()
