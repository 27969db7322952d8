"""What the contract cannot see: the adapter reads and writes the portal's own rows, in the
portal's words, leaves the portal's other columns and credentials alone, and the library's
flows (a subscription opened by the back office, a code changed, a code + TOTP login) run
over it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from securebox_auth import (
    PROFILE_TESTING,
    CodeAnswer,
    DerivedKeys,
    FixedClock,
    LoginState,
    Operator,
    Principal,
    Securebox,
    TotpAnswer,
    totp_code_at,
)
from securebox_auth.entitlements.accounts import AccountStatus, Role
from securebox_auth.policy.model import PSD2_DEFAULT
from securebox_auth.stores.protocols import PutAccount
from securebox_auth.stores.sql.engine import create_engine
from sqlalchemy import Engine, select, text

from portal_store import PortalStore
from portal_store.database import prepare_database
from portal_store.schema import CODE_TYPE, CREDENTIALS, USERS, create_portal_tables

KEY = b"\x07" * 32
BOSS = Principal.parse("123456789", "01")


def test_existing_portal_users_become_accounts_at_version_1(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/legacy.sqlite3"
    legacy = create_engine(url)
    create_portal_tables(legacy)  # years ago, before securebox
    with legacy.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO portal_users (company_number, user_suffix, profile, state, "
                "opened_at, full_name, email) VALUES ('123456789', '01', 'owner', 'open', "
                "'2019-05-01 08:00:00', 'Claire Martin', 'claire@boulangerie.example')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO portal_credentials (company_number, user_suffix, credential_type, "
                "secret_hash, changed_at, reset_required, previous_hashes) VALUES "
                "('123456789', '01', 'api_key', 'sha256:abc', '2024-01-01 00:00:00', 0, '[]')"
            )
        )
    legacy.dispose()
    engine = prepare_database(url)  # the adapter's migration, then securebox's
    store = PortalStore(engine, audit_key=KEY)
    found = store.get_account(BOSS)
    assert found is not None
    assert found.version == 1
    assert found.value.role is Role.PRINCIPAL_USER
    assert found.value.status is AccountStatus.ACTIVE
    assert found.value.created_at.isoformat() == "2019-05-01T08:00:00+00:00"
    assert store.get_code(BOSS) is None  # the portal's API key is not securebox's code
    # the library disables the account: the portal's own columns stay as they were
    closed = replace(found.value, status=AccountStatus.DISABLED)
    store.commit([PutAccount(BOSS, 1, closed)], [])
    with engine.connect() as conn:
        row = conn.execute(select(USERS)).mappings().one()
        kinds = conn.execute(select(CREDENTIALS.c.credential_type)).scalars().all()
    assert (row["state"], row["sb_version"]) == ("closed", 2)
    assert (row["full_name"], row["email"]) == ("Claire Martin", "claire@boulangerie.example")
    assert kinds == ["api_key"]
    engine.dispose()


def test_the_library_flows_run_over_the_portal_tables(engine: Engine) -> None:
    keys, clock = DerivedKeys.generate(), FixedClock()
    store = PortalStore(engine, audit_key=keys.audit_key())
    box = Securebox.from_policy(
        PSD2_DEFAULT, store=store, keys=keys, clock=clock, argon2=PROFILE_TESTING
    )
    letter = box.codes.create_subscription(Operator("back-office"), BOSS)
    totp = box.enrol_first_totp(Operator("back-office"), BOSS)
    assert box.confirm_totp(BOSS, totp_code_at(totp.credential, clock.now()))
    with engine.connect() as conn:
        user = conn.execute(select(USERS)).mappings().one()
        code = conn.execute(select(CREDENTIALS)).mappings().one()
        library_accounts = conn.execute(text("SELECT count(*) FROM accounts")).scalar()
    assert (user["company_number"], user["user_suffix"]) == ("123456789", "01")
    assert (user["profile"], user["state"]) == ("owner", "open")
    assert code["credential_type"] == CODE_TYPE
    assert code["reset_required"] is True  # a one-time code: changed at first login
    assert code["secret_hash"].startswith("sbx1$")  # argon2id, peppered: never the code
    assert letter.reveal() not in code["secret_hash"]
    assert library_accounts == 0  # securebox's own account table is not used

    clock.advance(timedelta(seconds=30))
    page = box.start_login("123456789", "01")
    page = box.answer_login(page.handle, CodeAnswer(letter.reveal()))
    assert page.state is LoginState.CODE_CHANGE
    page = box.change_login_code(page.handle, letter.reveal(), "47120938")
    assert page.state is LoginState.SECOND_FACTOR
    page = box.answer_login(page.handle, TotpAnswer(totp_code_at(totp.credential, clock.now())))
    assert page.session_id is not None
    with engine.connect() as conn:
        code = conn.execute(select(CREDENTIALS)).mappings().one()
    assert code["reset_required"] is False
    assert code["sb_version"] == 2
    assert len(json.loads(code["previous_hashes"])) == 1  # the one-time code, refused later

    clock.advance(timedelta(minutes=1))
    wrong = box.start_login("123456789", "01")
    wrong = box.answer_login(wrong.handle, CodeAnswer("11223344"))
    assert wrong.session_id is None
    assert store.get_lockout(BOSS).value.failures == 1  # in securebox's own table
    actions = [s.event.action for s in store.audit_log("123456789")]
    assert actions[:2] == ["subscription.open", "code.issue"]
