"""The SQL stores behave exactly like the in-memory reference, commit for commit.

Hypothesis draws sequences of commits (changes of every kind, expected versions right or
wrong, duplicate records, events) and applies each to a fresh :class:`MemoryStore` and a
fresh SQL store: every commit must have the same outcome (applied, ``ConcurrentUpdate`` or
``MalformedInput``), and afterwards every read and the whole audit chain must be equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine

from securebox_auth.audit import AuditChainBroken, AuditEvent, verify_chain
from securebox_auth.entitlements.accounts import Account, AccountStatus, Role
from securebox_auth.entitlements.model import (
    THIRD_PARTY_OPERATIONS,
    Company,
    DocumentScope,
    Invitation,
    InvitationStatus,
    Rights,
    Subscription,
)
from securebox_auth.errors import ConcurrentUpdate, ConfigurationError, MalformedInput
from securebox_auth.factors.code import CodeCredential
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.lockout.rules import Element, ElementSeries, LockoutState
from securebox_auth.policy.session import (
    Grant,
    Session,
    open_session,
    touch,
    with_grant,
    with_proofs,
)
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    Expect,
    OpenSession,
    PutAccount,
    PutCode,
    PutFactorState,
    PutLockout,
    PutSession,
    PutSubscription,
    RotateSession,
    Versioned,
)
from securebox_auth.stores.sql.engine import DatabaseSettings, create_engine
from securebox_auth.stores.sql.store import SqlStore
from tests.stores.conftest import AUDIT_KEY, empty_postgresql, sqlite_copy
from tests.support import NOW

PRINCIPALS = [Principal.parse(c, u) for c in ("111111111", "222222222") for u in ("01", "02")]
CLIENTS = sorted({p.client_id for p in PRINCIPALS}, key=lambda c: c.value)
FACTOR_KINDS = ["totp", "oob"]
FACTOR_ITEMS = ["default", "c-1"]
ACME = Siren("732829320")

principals = st.sampled_from(PRINCIPALS)
versions = st.integers(min_value=0, max_value=3)
times = st.integers(min_value=-5, max_value=5).map(lambda h: NOW + timedelta(hours=h))

accounts = st.builds(
    lambda p, role, status, at: Account(p, role, at, status),
    principals,
    st.sampled_from(list(Role)),
    st.sampled_from(list(AccountStatus)),
    times,
)
credentials = st.builds(
    CodeCredential,
    hash=st.sampled_from(["sbx1$k1$a", "sbx1$k1$b"]),
    set_at=times,
    must_change=st.booleans(),
    expires_at=st.none() | times,
    history=st.lists(st.sampled_from(["h1", "h2", "h3"]), max_size=2).map(tuple),
)
lockouts = st.builds(
    LockoutState,
    failures=st.integers(0, 5),
    temporary_blocks=st.integers(0, 3),
    blocked_until=st.none() | times,
    permanent=st.booleans(),
    last_failure_at=st.none() | times,
    elements=st.lists(
        st.builds(
            ElementSeries,
            st.sampled_from(Element),
            st.integers(0, 4),
            st.integers(0, 3),
            st.none() | times,
        ),
        max_size=3,
        unique_by=lambda series: series.element,
    ).map(lambda items: tuple(sorted(items, key=lambda s: list(Element).index(s.element)))),
)


@st.composite
def subscriptions(draw: st.DrawFn, client: ClientId) -> Subscription:
    sub = Subscription(
        client, companies={ACME: Company(ACME, "ACME", NOW)}, digital=draw(st.booleans())
    )
    owner = Principal(client, PRINCIPALS[0].user_number)
    if draw(st.booleans()):
        sub = sub.with_rights(owner, Rights.everything())
    for invitee in draw(st.lists(principals, max_size=2, unique=True)):
        if invitee.client_id == client:
            continue
        sub = sub.with_invitation(
            Invitation(
                id=f"inv-{invitee.key}",
                invitee=invitee,
                companies=frozenset({ACME}),
                documents=DocumentScope.all(),
                operations=THIRD_PARTY_OPERATIONS,
                invited_by=owner,
                created_at=NOW,
                expires_at=NOW + timedelta(days=3),
                status=draw(st.sampled_from(list(InvitationStatus))),
            )
        )
    return sub


@dataclass(frozen=True, slots=True)
class SessionStep:
    """A session change, made concrete when its batch runs: the library draws session
    identifiers, so ``index`` picks one of those opened so far in the example."""

    action: str  # "open", "put", "end", "rotate"
    index: int
    version: int
    session: Session


def _resolve(
    batch: list[Change | SessionStep], ids: list[str], reference: MemoryStore
) -> list[Change]:
    """The batch's concrete changes (the same objects go to both stores). A transition is
    derived from the session the reference holds, so it keeps what a store requires it to
    keep and only the versions decide the outcome, as for every other record."""
    concrete: list[Change] = []
    for step in batch:
        if not isinstance(step, SessionStep):
            concrete.append(step)
            continue
        if step.action == "open" or not ids:
            opened = OpenSession(step.session)
            ids.append(opened.session_id)
            concrete.append(opened)
            continue
        session_id = ids[step.index % len(ids)]
        found = reference.get_session(session_id)
        base = step.session if found is None else found.value
        version = max(step.version, 1)
        if step.action == "put":
            touched = touch(base, base.last_activity, grants=step.session.grants)
            concrete.append(PutSession(session_id, version, touched))
        elif step.action == "end":
            concrete.append(PutSession(session_id, version, None))
        else:
            rotated = RotateSession(
                session_id, version, with_proofs(base, ["cap_identify"], base.last_activity)
            )
            ids.append(rotated.new_session_id)
            concrete.append(rotated)
    return concrete


@st.composite
def changes(draw: st.DrawFn) -> Change | SessionStep:
    kind = draw(
        st.sampled_from(["account", "code", "lockout", "sub", "session", "factor", "expect"])
    )
    version = draw(versions)
    if kind == "account":
        account = draw(accounts)
        return PutAccount(account.principal, version, account)
    if kind == "code":
        return PutCode(draw(principals), version, draw(credentials))
    if kind == "lockout":
        return PutLockout(draw(principals), version, draw(lockouts))
    if kind == "sub":
        client = draw(st.sampled_from(CLIENTS))
        return PutSubscription(client, version, draw(subscriptions(client)))
    if kind == "session":
        principal = draw(principals)
        session = open_session(principal, "web", ["confidential_code"], draw(times))
        if draw(st.booleans()):
            grant = Grant("transfer", principal, None, NOW, NOW + timedelta(minutes=5), ("pwd",))
            session = with_grant(session, grant)
        action = draw(st.sampled_from(["open", "put", "end", "rotate"]))
        return SessionStep(action, draw(st.integers(0, 3)), version, session)
    if kind == "factor":
        document = {"n": draw(st.integers(0, 3)), "at": draw(times).isoformat()}
        state = None if draw(st.booleans()) and version > 0 else document
        factor_kind, item = draw(st.sampled_from(FACTOR_KINDS)), draw(st.sampled_from(FACTOR_ITEMS))
        return PutFactorState(draw(principals), factor_kind, item, version, state)
    return Expect(draw(st.sampled_from(["account", "code"])), draw(principals), version)


events = st.lists(
    st.sampled_from(["login", "change", "block"]).map(
        lambda a: AuditEvent.make(NOW, a, actor="t", subject="s", outcome="ok")
    ),
    max_size=2,
)
commits = st.lists(st.tuples(st.lists(changes(), max_size=3), events), min_size=1, max_size=8)


def _outcome(store: AuthStore, batch: list[Change], sealed: list[AuditEvent]) -> str:
    try:
        store.commit(batch, sealed)
    except ConcurrentUpdate:
        return "conflict"
    except MalformedInput:
        return "malformed"
    return "applied"


def _snapshot(store: AuthStore, sessions: list[str]) -> tuple[object, ...]:
    return (
        [store.get_account(p) for p in PRINCIPALS],
        [store.get_code(p) for p in PRINCIPALS],
        [store.get_lockout(p) for p in PRINCIPALS],
        [store.get_subscription(c) for c in CLIENTS],
        [store.get_session(s) for s in sessions],
        [
            store.get_factor_state(p, k, i)
            for p in PRINCIPALS
            for k in FACTOR_KINDS
            for i in FACTOR_ITEMS
        ],
        [store.factor_states(p, k) for p in PRINCIPALS for k in FACTOR_KINDS],
        [store.accounts_of(c) for c in CLIENTS],
        [
            sorted(store.subscriptions_inviting(p), key=lambda s: s.client_id.value)
            for p in PRINCIPALS
        ],
        list(store.audit_log()),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_sql_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], SqlStore]]:
    """A function that returns an empty SQL store (one engine, emptied or copied anew)."""
    engines: list[Engine] = []

    def fresh() -> SqlStore:
        if request.param == "sqlite":
            directory = tmp_path / f"db{len(engines)}"
            directory.mkdir()
            engine = create_engine(
                sqlite_copy(request.getfixturevalue("sqlite_template"), directory)
            )
        else:
            engine = create_engine(request.getfixturevalue("postgres_url"))
            empty_postgresql(engine)
        engines.append(engine)
        return SqlStore(engine, audit_key=AUDIT_KEY)

    yield fresh
    for engine in engines:
        engine.dispose()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=commits)
def test_sql_stores_follow_the_reference(
    fresh_sql_store: Callable[[], SqlStore],
    history: list[tuple[list[Change | SessionStep], list[AuditEvent]]],
) -> None:
    reference = MemoryStore(audit_key=AUDIT_KEY)
    store = fresh_sql_store()
    sessions: list[str] = []
    try:
        for steps, sealed in history:
            batch = _resolve(steps, sessions, reference)
            assert _outcome(store, batch, sealed) == _outcome(reference, batch, sealed)
        assert _snapshot(store, sessions) == _snapshot(reference, sessions)
    finally:
        store.engine.dispose()


# -- what only a database can do ------------------------------------------------------------


def _lockout_event() -> AuditEvent:
    return AuditEvent.make(NOW, "login.code", actor="t", subject="s", outcome="failure")


def test_a_busy_database_is_a_lost_race_and_the_store_recovers(database_url: str) -> None:
    """The writer waits for the lock up to the timeout, then reports ConcurrentUpdate (the
    services retry); nothing was written, and the next commit works."""
    settings = DatabaseSettings(url=database_url, busy_timeout_ms=100, statement_timeout_ms=300)
    engine = create_engine(settings)
    blocker = create_engine(database_url)
    principal = PRINCIPALS[0]
    try:
        store = SqlStore(engine, audit_key=AUDIT_KEY)
        holder = blocker.execution_options(securebox_write=True)  # SQLite: BEGIN IMMEDIATE
        with holder.connect() as conn, conn.begin() as held:
            lock = "SELECT version FROM audit_chains WHERE chain = ''"
            conn.exec_driver_sql(lock if blocker.dialect.name == "sqlite" else lock + " FOR UPDATE")
            with pytest.raises(ConcurrentUpdate):
                store.commit(
                    [PutLockout(principal, 0, LockoutState(failures=1))], [_lockout_event()]
                )
            held.rollback()
        assert store.get_lockout(principal).version == 0
        store.commit([PutLockout(principal, 0, LockoutState(failures=1))], [_lockout_event()])
        assert store.get_lockout(principal) == Versioned(LockoutState(failures=1), 1)
        assert store.audit_head()[0] == 1
    finally:
        engine.dispose()
        blocker.dispose()


def test_a_truncated_chain_is_detected_with_the_head(sql_engine: Engine) -> None:
    store = SqlStore(sql_engine, audit_key=AUDIT_KEY)
    store.commit([], [_lockout_event(), _lockout_event(), _lockout_event()])
    sequence, head = store.audit_head()
    assert sequence == 3
    assert verify_chain(AUDIT_KEY, store.audit_log(), expected_head=head) == 3
    with sql_engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_events WHERE sequence = 3")
    with pytest.raises(AuditChainBroken):
        verify_chain(AUDIT_KEY, store.audit_log(), expected_head=head)


def test_the_audit_key_is_required_and_long(sql_engine: Engine) -> None:
    with pytest.raises(ConfigurationError):
        SqlStore(sql_engine, audit_key=b"short")


def test_a_database_without_schema_says_to_upgrade(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/none.sqlite3")
    try:
        store = SqlStore(engine, audit_key=AUDIT_KEY)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE audit_chains "
                "(chain TEXT PRIMARY KEY, sequence INTEGER, mac TEXT, version INTEGER, "
                "key_id TEXT)"
            )
        with pytest.raises(ConfigurationError, match="db upgrade"):
            store.commit([], [_lockout_event()])
        with pytest.raises(ConfigurationError, match="db upgrade"):
            store.audit_head()
    finally:
        engine.dispose()


def test_connections_the_server_closed_are_replaced(fresh_postgres_url: str) -> None:
    """After a server restart (here: every backend of the pool terminated), reads and
    commits go on with fresh connections; nothing had been written on the dead ones."""
    engine = create_engine(fresh_postgres_url)
    admin = create_engine(fresh_postgres_url)
    principal = PRINCIPALS[0]
    try:
        store = SqlStore(engine, audit_key=AUDIT_KEY)
        store.commit([PutLockout(principal, 0, LockoutState(failures=1))], [_lockout_event()])
        for failures in (2, 3):
            with admin.connect() as conn:
                conn.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            assert store.get_lockout(principal).value.failures == failures - 1
            with admin.connect() as conn:
                conn.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            current = store.get_lockout(principal)
            store.commit(
                [PutLockout(principal, current.version, LockoutState(failures=failures))],
                [_lockout_event()],
            )
        assert store.get_lockout(principal) == Versioned(LockoutState(failures=3), 3)
        assert verify_chain(AUDIT_KEY, store.audit_log()) == 3
    finally:
        engine.dispose()
        admin.dispose()


def test_callers_writes_commit_with_the_sealed_events_or_not_at_all(sql_engine: Engine) -> None:
    """``commit(..., also=)``: the caller's statements run in the transaction that seals
    the events (the digital box writes a document with its audit events this way)."""
    from sqlalchemy import text  # noqa: PLC0415

    store = SqlStore(sql_engine, audit_key=AUDIT_KEY)
    event = AuditEvent.make(NOW, "box.test", actor="t", subject="123456789", outcome="ok")
    doc = ("d1", "123456789", "732829320", "payroll", "x", "x", NOW)
    insert = text(
        "INSERT INTO documents (id, client_id, company, theme, label, label_folded, issued_at) "
        "VALUES (:i, :c, :s, :t, :l, :f, :a)"
    )
    values = dict(zip("icstlfa", doc, strict=True))

    def fails(conn: Connection) -> None:
        conn.execute(insert, values)
        raise ConfigurationError("stop")

    with pytest.raises(ConfigurationError):
        store.commit([], [event], also=fails)
    assert list(store.audit_log("123456789")) == []
    with sql_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM documents")).scalar_one() == 0

    def inserts(conn: Connection) -> None:
        conn.execute(insert, values)

    store.commit([], [event], also=inserts)
    assert [s.event for s in store.audit_log("123456789")] == [event]
    with sql_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM documents")).scalar_one() == 1
    assert verify_chain(AUDIT_KEY, list(store.audit_log("123456789"))) == 1


def test_a_failed_statement_caught_by_the_callers_writes_commits_nothing(
    sql_engine: Engine,
) -> None:
    """On PostgreSQL a failed statement aborts the transaction even when ``also`` catches
    the error: the commit is refused rather than silently rolled back."""
    import contextlib  # noqa: PLC0415

    from sqlalchemy import text  # noqa: PLC0415
    from sqlalchemy.exc import DBAPIError  # noqa: PLC0415

    store = SqlStore(sql_engine, audit_key=AUDIT_KEY)
    event = AuditEvent.make(NOW, "box.test", actor="t", subject="123456789", outcome="ok")

    def swallows(conn: Connection) -> None:
        with contextlib.suppress(DBAPIError):
            conn.execute(text("SELECT * FROM no_such_table"))

    if sql_engine.dialect.name == "postgresql":
        with pytest.raises(ConcurrentUpdate):
            store.commit([], [event], also=swallows)
        assert list(store.audit_log("123456789")) == []
    else:  # SQLite: a failed statement leaves the transaction usable
        store.commit([], [event], also=swallows)
        assert len(list(store.audit_log("123456789"))) == 1


def test_the_subscriptions_holding_a_company_follow_their_portfolios(sql_engine: Engine) -> None:
    store = SqlStore(sql_engine, audit_key=AUDIT_KEY)
    a, b, other = ClientId("111111111"), ClientId("222222222"), Siren("552100554")
    sub_a = Subscription(a, companies={ACME: Company(ACME, "ACME", NOW)})
    store.commit([PutSubscription(a, 0, sub_a)], [])
    store.commit([PutSubscription(b, 0, Subscription(b, companies=sub_a.companies))], [])
    assert store.subscriptions_holding(ACME) == [a, b]
    moved = sub_a.without_company(ACME).with_company(Company(other, "Other", NOW))
    store.commit([PutSubscription(a, 1, moved)], [])
    assert store.subscriptions_holding(ACME) == [b]
    assert store.subscriptions_holding(other) == [a]
