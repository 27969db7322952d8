"""CAP reader proofs on the step-up pages: the page shows the digits (and the amount) to type,
bound to the operation's digest; a code over another amount is refused."""

from __future__ import annotations

import re
from collections.abc import Callable

from securebox_auth.emv.profiles import TerminalInput, numeric_currency
from tests.cards.capworld import CapWorld
from tests.server.conftest import token
from tests.server.stepup.conftest import World
from tests.server.stepup.test_flows import OTHER, TRANSFER

EUR = numeric_currency("EUR")
CHALLENGE = re.compile(r"<dt>Challenge</dt><dd class=\"bound\">([0-9]+)</dd>")


def _cap(world: World, order: str, method: str, code_of: Callable[[str], str]) -> int:
    page = world.client.get(f"/operations/{order}/proof/{method}")
    assert page.status_code == 200, page.text
    found = CHALLENGE.search(page.text)
    assert found is not None, page.text
    fields = dict(re.findall(r'name="(ceremony|card|mode)" value="([^"]*)"', page.text))
    code = code_of(found.group(1))
    sent = world.client.post(
        f"/operations/{order}/proof/{method}",
        data={**fields, "code": code, "csrf_token": token(page.text)},
        follow_redirects=False,
    )
    status: int = sent.status_code
    return status


def test_a_transfer_signed_with_the_cap_reader(cap_world: tuple[World, CapWorld]) -> None:
    world, cards = cap_world
    world.login()
    order, page = world.enter("/transfers/new", TRANSFER)
    assert f"/operations/{order}/proof/cap_sign" in page.text
    proof = world.client.get(f"/operations/{order}/proof/cap_sign")
    assert "125050" in proof.text  # the amount to type, in cents
    wrong = _cap(world, order, "cap_sign", lambda d: cards.code(TerminalInput.sign(d, 999, EUR)))
    assert wrong == 401
    right = _cap(world, order, "cap_sign", lambda d: cards.code(TerminalInput.sign(d, 125050, EUR)))
    assert right == 303
    assert world.execute(order).status_code == 200


def test_a_payee_is_approved_with_a_linked_respond(cap_world: tuple[World, CapWorld]) -> None:
    world, cards = cap_world
    world.login()
    order, _ = world.enter("/payees/new", {"name": "Muller GmbH", "iban": OTHER})
    status = _cap(world, order, "cap_sign", lambda d: cards.code(TerminalInput.respond(d)))
    assert status == 303
    assert world.execute(order).status_code == 200
    assert OTHER in world.client.get("/payees").text
