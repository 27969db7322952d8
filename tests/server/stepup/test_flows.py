"""Each sensitive operation through its pages: the step-up asked of a code-only session, what
is approved shown before the proof, the proof, the order recorded and the grant consumed."""

from __future__ import annotations

from tests.server.conftest import token
from tests.server.stepup.conftest import World

IBAN = "FR7630006000011234567890189"
IBAN_SPACED = "FR76 3000 6000 0112 3456 7890 189"
OTHER = "DE89370400440532013000"


def test_a_transfer_shows_the_amount_and_payee_then_needs_a_linked_proof(world: World) -> None:
    world.login()
    data = {"amount": "1250.50", "name": "Dupont SARL", "iban": IBAN_SPACED, "reference": "F-42"}
    order, page = world.enter("/transfers/new", data)
    assert page.status_code == 200
    assert "1250.50 EUR" in page.text and f"IBAN:{IBAN}" in page.text and "Dupont SARL" in page.text
    assert f"/operations/{order}/proof/passkey_uv" in page.text
    assert "/proof/totp" not in page.text  # the policy wants a linking method for payments
    session = world.client.cookies.get("__Host-sb-session")
    done = world.prove(order, "passkey_uv")
    assert done.status_code == 303, done.text
    assert world.client.cookies.get("__Host-sb-session") != session  # rotated (ADR 0024)
    result = world.execute(order)
    assert result.status_code == 200, result.text
    assert "1250.50 EUR" in result.text
    orders = world.client.get("/orders")
    assert "Done" in orders.text
