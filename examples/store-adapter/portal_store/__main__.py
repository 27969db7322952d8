"""``python3 -m portal_store [--dir DIR]``: a walk-through on a SQLite file. The portal's
tables exist with one user (created by the portal long ago); the adapter's migration and
securebox's run; the back office opens a subscription for a second user; that user changes
the one-time code and logs in with code + TOTP; the rows of the portal's tables are printed
after each step."""

from __future__ import annotations

import argparse
import tempfile
from datetime import timedelta
from pathlib import Path

from securebox_auth import (
    PROFILE_TESTING,
    CodeAnswer,
    DerivedKeys,
    FixedClock,
    Operator,
    Principal,
    Securebox,
    TotpAnswer,
    totp_code_at,
)
from securebox_auth.entitlements.accounts import Role
from securebox_auth.policy.model import PSD2_DEFAULT
from securebox_auth.stores.sql.engine import create_engine
from sqlalchemy import Engine, select, text

from portal_store.database import prepare_database
from portal_store.schema import CREDENTIALS, USERS, create_portal_tables
from portal_store.store import PortalStore

CLIENT = "123456789"


def _show(engine: Engine, title: str) -> None:
    print(f"\n== {title}")
    with engine.connect() as conn:
        for row in conn.execute(select(USERS)).mappings():
            print(
                f"portal_users       {row['company_number']}/{row['user_suffix']}"
                f" profile={row['profile']} state={row['state']} full_name={row['full_name']!r}"
                f" sb_version={row['sb_version']}"
            )
        for row in conn.execute(select(CREDENTIALS)).mappings():
            print(
                f"portal_credentials {row['company_number']}/{row['user_suffix']}"
                f" {row['credential_type']} reset_required={row['reset_required']}"
                f" hash={row['secret_hash'][:16]}... sb_version={row['sb_version']}"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python3 -m portal_store", description=__doc__)
    parser.add_argument("--dir", type=Path, help="where to write portal.sqlite3 (a new one)")
    folder = parser.parse_args(argv).dir or Path(tempfile.mkdtemp(prefix="portal-store-"))
    url = f"sqlite:///{folder / 'portal.sqlite3'}"
    legacy = create_engine(url)
    create_portal_tables(legacy)
    with legacy.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO portal_users (company_number, user_suffix, profile, state, "
                "opened_at, full_name) VALUES ('123456789', '01', 'owner', 'open', "
                "'2019-05-01 08:00:00', 'Claire Martin')"
            )
        )
    legacy.dispose()
    engine = prepare_database(url)
    _show(engine, f"the portal's tables after the migrations ({url})")

    keys, clock = DerivedKeys.generate(), FixedClock()
    store = PortalStore(engine, audit_key=keys.audit_key())
    found = store.get_account(Principal.parse(CLIENT, "01"))
    assert found is not None
    account = found.value
    print(
        f"\nuser 01 as securebox reads it: role {account.role.value}, {account.status.value},"
        f" since {account.created_at.isoformat()}, version {found.version}"
    )
    box = Securebox.from_policy(
        PSD2_DEFAULT, store=store, keys=keys, clock=clock, argon2=PROFILE_TESTING
    )
    new = Principal.parse(CLIENT, "02")
    letter = box.codes.create_account(Operator("back-office"), new, Role.USER)
    totp = box.enrol_first_totp(Operator("back-office"), new)
    box.confirm_totp(new, totp_code_at(totp.credential, clock.now()))
    _show(engine, "the back office created user 02 (a one-time code, a TOTP)")

    clock.advance(timedelta(seconds=30))
    page = box.start_login(CLIENT, "02")
    page = box.answer_login(page.handle, CodeAnswer(letter.reveal()))
    page = box.change_login_code(page.handle, letter.reveal(), "47120938")
    page = box.answer_login(page.handle, TotpAnswer(totp_code_at(totp.credential, clock.now())))
    print(f"\nlogin of 02: {page.state.name}, session opened: {page.session_id is not None}")
    _show(engine, "after the code change and the login")
    audit = [s.event.action for s in store.audit_log(CLIENT)]
    print(f"\naudit chain of 123456789 (securebox's tables): {', '.join(audit)}")
    engine.dispose()


if __name__ == "__main__":
    main()
