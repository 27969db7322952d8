"""Process bodies for ``test_concurrency.py`` (spawned: importable, picklable arguments)."""

from __future__ import annotations

import multiprocessing.synchronize
from datetime import timedelta
from typing import Any

from securebox_auth import AssertionRequirement, FixedClock, OperationRequest, SecureboxError
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.shell.token_verifier import AssertionVerifier
from securebox_auth.tokens.assertions import TokenKeys
from tests.shell.portal import MASTER, T0, Phone, make_box, strong_login, user
from tests.shell.steps import payee_step_up


def whole_flow(
    url: str,
    numbers: list[int],
    seeds: dict[int, str],
    barrier: multiprocessing.synchronize.Barrier,
    results: Any,
) -> None:
    """For each user: login (code + TOTP), two payee step-ups each executed once."""
    store = open_sql_store(url, audit_key=DerivedKeys.from_hex(MASTER).audit_key())
    clock = FixedClock(T0 + timedelta(minutes=2))
    phone = Phone()
    box = make_box(store, clock, phone)
    barrier.wait()
    for n in numbers:
        who = user(n)
        try:
            session_id = strong_login(box, who, seeds[n], clock)
            executed = 0
            for payee in ("FR7630006000011234567890189", "DE89370400440532013000"):
                session_id, done = payee_step_up(box, phone, session_id, payee)
                executed += done
                clock.advance(timedelta(minutes=1))  # the SMS throttle's minimum interval
            results.put((n, f"ok:{executed}"))
        except SecureboxError as exc:  # pragma: no cover - reported to the test
            results.put((n, f"error:{type(exc).__name__}:{exc}"))
        except Exception as exc:  # pragma: no cover
            results.put((n, f"crash:{type(exc).__name__}:{exc}"))
    store.engine.dispose()


def execute_one(
    url: str,
    session_id: str,
    handle: str,
    barrier: multiprocessing.synchronize.Barrier,
    results: Any,
) -> None:
    """Execute the same step-up flow as every other process, at once."""
    store = open_sql_store(url, audit_key=DerivedKeys.from_hex(MASTER).audit_key())
    box = make_box(store, FixedClock(T0 + timedelta(minutes=2, seconds=30)), Phone())
    barrier.wait()
    try:
        page = box.execute(session_id, handle)
        results.put("executed" if page.executed else f"not:{page.state}")
    except SecureboxError as exc:
        results.put(type(exc).__name__)
    except Exception as exc:  # pragma: no cover
        results.put(f"crash:{type(exc).__name__}:{exc}")
    store.engine.dispose()


def execute_or_verify(
    url: str,
    session_id: str,
    handle: str,
    token: str,
    jwks: dict[str, Any],
    path: str,
    barrier: multiprocessing.synchronize.Barrier,
    results: Any,
) -> None:
    """Spend the step-up's grant by ``path``: ``execute`` the flow, or verify an assertion
    carrying the grant (as a downstream service would, with the portal's published keys),
    at once with the other processes."""
    store = open_sql_store(url, audit_key=DerivedKeys.from_hex(MASTER).audit_key())
    box = make_box(store, FixedClock(T0 + timedelta(minutes=2, seconds=30)), Phone())
    request = OperationRequest("payee_management", payee="FR7630006000011234567890189")
    requirement = AssertionRequirement.for_operation(box.policy, request)
    verifier = AssertionVerifier(
        TokenKeys.from_jwks(jwks), box.issuer, "payments-api", store, box.clock
    )
    barrier.wait()
    try:
        if path == "execute":
            page = box.execute(session_id, handle)
            results.put("executed" if page.executed else "not executed")
        else:
            spent = verifier.verify(token, subject=user(1), requirement=requirement).spent
            results.put("spent" if spent is not None else "not spent")
    except SecureboxError as exc:
        results.put(type(exc).__name__)
    except Exception as exc:  # pragma: no cover
        results.put(f"crash:{type(exc).__name__}:{exc}")
    store.engine.dispose()


__all__ = ["OperationRequest", "execute_one", "execute_or_verify", "whole_flow"]
