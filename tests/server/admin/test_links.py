"""The invitation links table on SQLite and PostgreSQL: only the token's SHA-256 is stored,
a link is found by its token, spent once (two racing answers cannot both spend it), and
listed per subscription."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from securebox_auth.identity import ClientId
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.db.schema import THIRD_PARTY_INVITATIONS
from securebox_server.invitations.links import InvitationLinks, Link, digest, new_token
from tests.server.admin.world import C2, CLIENT, NEWCOMER
from tests.server.box.conftest import T0


@pytest.fixture
def links(box_url: str) -> Iterator[InvitationLinks]:
    engine = create_engine(box_url)
    yield InvitationLinks(engine)
    engine.dispose()


def _link(invitation: str = "inv-1") -> Link:
    expires = T0 + timedelta(days=14)
    return Link(invitation, CLIENT, C2, "Cabinet", "c@x.example", NEWCOMER, True, T0, expires, None)


def test_found_by_token_spent_once(links: InvitationLinks) -> None:
    token = new_token()
    links.add(_link(), token)
    with links.engine.connect() as conn:
        stored = conn.execute(sa.select(THIRD_PARTY_INVITATIONS.c.token_sha256)).scalar_one()
    assert stored == digest(token)
    assert token not in stored
    found = links.by_token(token)
    assert found == _link()
    assert found.usable(T0)
    assert not found.usable(T0 + timedelta(days=14))
    assert links.use("inv-1", T0)
    assert not links.use("inv-1", T0)  # the second answer finds it spent
    spent = links.by_token(token)
    assert spent is not None
    assert not spent.usable(T0)


def test_unknown_and_absurd_tokens(links: InvitationLinks) -> None:
    links.add(_link(), new_token())
    for token in ("", "x", new_token(), "A" * 1000, "\x00" * 30):
        assert links.by_token(token) is None


def test_listed_per_subscription(links: InvitationLinks) -> None:
    links.add(_link("inv-1"), new_token())
    links.add(_link("inv-2"), new_token())
    assert {link.invitation_id for link in links.of_subscription(CLIENT)} == {"inv-1", "inv-2"}
    assert links.of_subscription(ClientId("555555555")) == []
    assert links.get(ClientId("555555555"), "inv-1") is None
