"""How many store reads each step of a full login and its assertion makes, on memory,
SQLite and PostgreSQL (each read is one statement on a SQL store): a ceiling per step, so
that a change that reads the same rows again in one step shows up here. The enrolled
methods are one read (``factor_states_of``), and the lockout a verification leaves is not
read again by the flow."""

from __future__ import annotations

import pytest

from securebox_auth import CodeAnswer, TotpAnswer
from securebox_auth.stores.protocols import AuthStore
from securebox_auth.stores.sql.store import SqlStore
from tests.shell.portal import CLIENT, CODE, totp_now
from tests.shell.test_one_commit import World

#: Reads per step of a first login (no strong authentication yet, so the code alone does
#: not open a session): the code answer reads the flow, the lockout, account and code, the
#: renewal clock with the account's creation time, the end-all watermark and the code, and
#: the enrolled methods; the TOTP answer that opens the session reads the flow, the
#: lockout, account and TOTP state, and the renewal clock with the account, the watermark
#: and the code. The verification's reads are one round trip on PostgreSQL, and so are the
#: renewal clock's four (ADR 0043, ADR 0067): the account, the watermark and the code are
#: read with the renewal record whether or not one is stored, costing no round trip.
CODE_STEP = {
    "get_factor_state": 3,
    "get_lockout": 1,
    "get_account": 2,
    "get_code": 2,
    "factor_states_of": 1,
}
TOTP_STEP = {"get_factor_state": 4, "get_lockout": 1, "get_account": 2, "get_code": 1}
#: An assertion reads the session and the end-all watermark: one statement (a join) on a
#: SQL store, two getters on a store without ``read_session`` (memory).
ASSERTION = {"get_session": 1, "get_factor_state": 1}
ASSERTION_SQL = {"read_session": 1}


@pytest.fixture
def world(contract_store: AuthStore, tmp_path: object) -> World:
    return World(contract_store, tmp_path)


def test_reads_per_login_step_do_not_grow(world: World) -> None:
    box, store, clock = world.box, world.store, world.clock
    page, reads = store.counted_reads(lambda: box.start_login(CLIENT, "01"))
    assert dict(reads) == {}
    page, reads = store.counted_reads(lambda: box.answer_login(page.handle, CodeAnswer(CODE)))
    assert page.session_id is None
    assert dict(reads) == CODE_STEP
    totp = TotpAnswer(totp_now(world.seed, clock))
    page, reads = store.counted_reads(lambda: box.answer_login(page.handle, totp))
    assert page.session_id is not None
    assert dict(reads) == TOTP_STEP
    session_id = page.session_id
    token, reads = store.counted_reads(lambda: box.assertion(session_id, audience="api"))
    assert token
    sql = isinstance(store.inner, SqlStore)
    assert dict(reads) == (ASSERTION_SQL if sql else ASSERTION)
    # a full login and its JWT: 18 statements on a SQL store (15 before the watermark and
    # the code joined the renewal read, ADR 0067; 19 before the session and the watermark
    # were read together), in 8 round trips on PostgreSQL
    assert sum(CODE_STEP.values()) + sum(TOTP_STEP.values()) + sum(ASSERTION_SQL.values()) == 18


def box_methods(world: World) -> frozenset[str]:
    """``enrolled`` as the five reads it replaced would answer."""
    principal = world.box.codes.parse_principal(CLIENT, "01")
    store = world.store.inner
    found = {"confidential_code", "sms_otp"}
    totp = store.get_factor_state(principal, "totp", "default")
    if totp is not None and totp.value.get("confirmed_at") is not None:
        found.add("totp")
    if store.get_factor_state(principal, "recovery", "default") is not None:
        found.add("recovery_code")
    if store.get_factor_state(principal, "passkeys", "default") is not None:
        found.update(("passkey_uv", "passkey_no_uv"))
    if store.factor_states(principal, "cap_card"):
        found.update(("cap_identify", "cap_respond", "cap_sign"))
    if store.get_factor_state(principal, "certificate", "default") is not None:
        found.update(("certificate", "smartcard_pin"))
    return frozenset(found)


def test_the_enrolled_methods_are_one_read(world: World) -> None:
    principal = world.box.codes.parse_principal(CLIENT, "01")
    found, reads = world.store.counted_reads(lambda: world.box.enrolled(principal))
    assert dict(reads) == {"factor_states_of": 1}
    assert found == box_methods(world)
