"""Every way of reading the box agrees, whatever happens in between (a Hypothesis state
machine through the real app).

Two "processes" share one SQLite database: world ``A`` publishes documents, changes a
collaborator's rights, revokes the accountant's invitation and runs the expiry job; the app
reads through world ``B`` (its own store, caches and catalogue), as a second server
process would. In any order with those changes, time passing, reads and withdrawals, the
machine holds, against a model of the rules written here (not the library's ``check``):

* each user's API list (paged with cursors), filtered by theme, by company and by
  read/unread, the HTML search page and the home page's newest 20 show exactly the live,
  still valid documents the user may view, newest first, with the read marks of their own
  reads;
* one document opened by any path (API metadata, API body, the HTML page, its view and its
  download, its share form and the API's list of one's shares, a receiver's metadata, body
  and mark-read) answers 200 exactly when the listings show it (and, to download a body or
  share it, that right: the page links each only then), else 404, the same answer as for
  an id that never existed;
* "N new documents since your last visit" counts the documents of the list published
  since the previous visit;
* each receiver lists its company's documents, and its feed tells each of them once.

``SECUREBOX_READ_PATHS_EXAMPLES`` sets the number of examples (3 by default, about 7 s
each; CI runs 12, ``nox -s machines`` 200).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from securebox_auth.entitlements.accounts import Operator
from securebox_auth.entitlements.model import (
    CompanyScope,
    DocumentScope,
    Operation,
    Rights,
    Theme,
)
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Principal, Siren
from securebox_auth.policy.session import open_session
from securebox_auth.stores.protocols import OpenSession
from tests.server.api.box_app import BoxApi, build_app, close, pdf
from tests.server.api.helpers import answer, bearer, start
from tests.server.box.conftest import (
    ACCOUNTANT,
    ADMIN,
    C1,
    C2,
    COLLABORATOR,
    PAYROLL,
    PRINCIPAL,
    SENDER,
    STATEMENTS,
    TAX,
    World,
    make_world,
)
from tests.server.box.test_lifecycle_machine import _template
from tests.server.clients.helpers import Registered, register_receiver, register_sender
from tests.server.conftest import CODE, identify, submit_code

EXAMPLES = int(os.environ.get("SECUREBOX_READ_PATHS_EXAMPLES", "3"))
USERS = (PRINCIPAL, ADMIN, COLLABORATOR, ACCOUNTANT)
THEME_OF = {"payslip": PAYROLL, "tax-notice": TAX}
VALID_DAYS = {"payslip": 180, "tax-notice": 30}
#: Withdrawn by its sender: a payslip (no retention); a tax notice is kept 10 years.
WITHDRAWABLE = {"payslip"}
LINK = re.compile(r'href="/documents/([A-Za-z0-9_-]+)"')
NEW = re.compile(r"(\d+) new documents? since your last visit")
ENGLISH = {"Accept-Language": "en"}
#: An id of the right shape that no document has.
NEVER = "d" + "A" * 21
EVERY_OPERATION = frozenset({Operation.VIEW, Operation.DOWNLOAD, Operation.SHARE})
#: How a path acts on a document (view: the page, the metadata, the inline view).
ACTION_OF = {
    "api-content": Operation.DOWNLOAD,
    "download": Operation.DOWNLOAD,
    "share": Operation.SHARE,
    "api-shares": Operation.SHARE,
}


@dataclass
class Doc:
    id: str
    company: Siren
    theme: Theme
    type: str
    published_at: datetime
    valid_until: datetime
    withdrawn: bool = False


@dataclass
class Seen:
    """What the model says one user may do."""

    companies: frozenset[Siren] | None  # None: the whole portfolio
    themes: frozenset[Theme] | None  # None: every theme
    documents: frozenset[str] = frozenset()
    operations: frozenset[Operation] = frozenset({Operation.VIEW, Operation.DOWNLOAD})

    def covers(self, doc: Doc) -> bool:
        return (self.companies is None or doc.company in self.companies) and (
            self.themes is None or doc.theme in self.themes or doc.id in self.documents
        )

    def may(self, doc: Doc, action: Operation) -> bool:
        return action in self.operations and self.covers(doc)


@dataclass
class Reader:
    principal: Principal
    api: dict[str, str] = field(default_factory=dict)
    html: TestClient | None = None
    read: set[str] = field(default_factory=set)
    previous_visit: datetime | None = None
    current_visit: datetime | None = None


class ReadPaths(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp())
        shutil.copyfile(_template(), self.folder / "box.db")
        url = f"sqlite:///{self.folder / 'box.db'}"
        self.a: World = make_world(url)
        self.b: World = make_world(url, keys=self.a.keys, seed=False)
        self.client, app_settings = build_app(self.b, url)
        self.client.__enter__()
        sender = register_sender(self.client, SENDER)
        self.receivers: dict[Siren, Registered] = {
            company: register_receiver(
                self.client, self.a.box, [company], subscription="123456789", name=f"{company}"
            )
            for company in (C1, C2)
        }
        self.api = BoxApi(
            self.client, self.b, sender, self.receivers[C1], self.receivers[C2], app_settings
        )
        self.sender_client = sender
        self.receiver_tokens = {c: self.api.token(r) for c, r in self.receivers.items()}
        self.receiver_read: dict[Siren, set[str]] = {C1: set(), C2: set()}
        self.docs: dict[str, Doc] = {}
        self.seen: dict[Principal, Seen] = {
            PRINCIPAL: Seen(None, None, operations=EVERY_OPERATION),
            ADMIN: Seen(None, None, operations=EVERY_OPERATION),
            COLLABORATOR: Seen(None, frozenset({PAYROLL})),
            ACCOUNTANT: Seen(frozenset({C1}), None),
        }
        self.readers = {who: Reader(who) for who in USERS}
        for who in USERS:  # each user's code, changed from the letter's
            letter = self.a.box.codes.regenerate_code(Operator("back-office"), who)
            changed = self.a.box.codes.change_code(
                who.client_id.value, who.user_number.value, letter.reveal(), CODE
            )
            assert changed.changed
        self.advance(timedelta(milliseconds=1))  # the letters ended the sessions until now
        self.removed: set[Siren] = set()
        #: when each document was first read, by anyone
        self.first_read: dict[str, datetime] = {}
        self.published = 0

    def teardown(self) -> None:
        try:
            for reader in self.readers.values():
                if reader.html is not None:
                    reader.html.close()
            self.client.__exit__(None, None, None)
            close(self.client)
        finally:
            self.a.documents.engine.dispose()
            self.b.documents.engine.dispose()
            shutil.rmtree(self.folder, ignore_errors=True)

    # -- the model ----------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.a.clock.now()

    def advance(self, by: timedelta) -> None:
        for clock in (self.a.clock, self.b.clock):
            clock.advance(by)

    def live(self, doc: Doc) -> bool:
        """Shown to those who may view it: not withdrawn, still valid, of a company still
        in the portfolio."""
        return not doc.withdrawn and self.now < doc.valid_until and doc.company not in self.removed

    def visible(self, who: Principal) -> list[Doc]:
        """What ``who`` may view now, newest first (ties: the list's own order)."""
        seen = self.seen[who]
        return [d for d in self.docs.values() if self.live(d) and seen.may(d, Operation.VIEW)]

    def may(self, who: Principal, doc: Doc | None, action: Operation) -> bool:
        return doc is not None and self.live(doc) and self.seen[who].may(doc, action)

    # -- ways in ------------------------------------------------------------------------

    def _ready(self, who: Principal) -> None:
        """A recent strong login on the web channel, so that the code alone logs in."""
        box = self.a.box
        box.store.commit([box.factors.renewal_change(who, "web", self.now)], [])

    def token(self, who: Principal) -> dict[str, str]:
        reader = self.readers[who]
        if not reader.api:
            self._ready(who)
            flow = start(self.client, who.client_id.value, who.user_number.value)
            done = answer(self.client, flow, method="confidential_code", code=CODE)
            assert done.status_code == 200, done.text
            assert done.json()["state"] == "done", done.text
            reader.api = bearer(done.json()["session"]["token"])
        return reader.api

    def html(self, who: Principal) -> TestClient:
        reader = self.readers[who]
        if reader.html is None:
            self._ready(who)
            reader.html = self._html_login(who)
        return reader.html

    def _html_login(self, who: Principal) -> TestClient:
        browser = TestClient(self.client.app, base_url="http://testserver", headers=ENGLISH)
        identify(browser, who.client_id.value, who.user_number.value)
        done = submit_code(browser, CODE)
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/home", done.headers["location"]
        return browser

    def get(self, who: Principal, path: str, **params: Any) -> Any:
        answer = self.client.get(path, headers=self.token(who), params=params)
        if answer.status_code == 401:  # the session ended while time passed: log in again
            self.readers[who].api = {}
            answer = self.client.get(path, headers=self.token(who), params=params)
        return answer

    def receiver(self, company: Siren, method: str, path: str, **params: Any) -> Any:
        """A receiver's request, with a new access token when the last one expired."""
        for _ in range(2):
            headers = self.receiver_tokens[company]
            answer = self.client.request(method, path, headers=headers, params=params)
            if answer.status_code != 401:
                return answer
            self.receiver_tokens[company] = self.api.token(self.receivers[company])
        return answer

    def listed(self, who: Principal, **params: Any) -> list[dict[str, Any]]:
        """Every page of ``who``'s API list (small pages, to follow the cursors)."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {"limit": 3, **params, **({"cursor": cursor} if cursor else {})}
            page = self.get(who, "/api/v1/documents", **query)
            assert page.status_code == 200, page.text
            out += page.json()["documents"]
            cursor = page.json()["next"]
            if cursor is None:
                return out
            assert len(out) <= len(self.docs), "a cursor that never ends"

    # -- what happens -------------------------------------------------------------------

    @rule(
        type_=st.sampled_from(sorted(THEME_OF)),
        companies=st.sampled_from([[C1], [C2], [C1, C2]]),
        through_api=st.booleans(),
    )
    def publish(self, type_: str, companies: list[Siren], through_api: bool) -> None:
        if self.removed & set(companies):
            return  # a company out of the portfolio receives nothing
        self.advance(timedelta(seconds=1))
        self.published += 1
        if through_api:
            sent = self.api.publish(
                f"key-{self.published}",
                pdf(self.published),
                companies=[c.value for c in companies],
                type_=type_,
                headers=self.api.token(self.sender_client),
            )
            assert sent.status_code == 201, sent.text
            ids = [r["document_id"] for r in sent.json()["results"]]
        else:
            ids = list(self.a.publish_sample(type_=type_, companies=companies).document_ids)
        assert len(ids) == len(companies)
        for doc_id, company in zip(ids, companies, strict=True):
            self.docs[doc_id] = Doc(
                doc_id,
                company,
                THEME_OF[type_],
                type_,
                self.now,
                self.now + timedelta(days=VALID_DAYS[type_]),
            )

    @rule(
        companies=st.sampled_from([None, frozenset({C1}), frozenset({C2}), frozenset({C1, C2})]),
        themes=st.sampled_from(
            [None, frozenset(), frozenset({PAYROLL}), frozenset({TAX}), frozenset({STATEMENTS})]
        ),
        chosen=st.integers(0, 2),
        operations=st.sampled_from(
            [
                frozenset({Operation.VIEW}),
                frozenset({Operation.VIEW, Operation.DOWNLOAD}),
                frozenset({Operation.VIEW, Operation.SHARE}),
                EVERY_OPERATION,
                frozenset(),
                frozenset({Operation.DOWNLOAD}),  # refused: download is granted with view
                frozenset({Operation.SHARE}),  # refused: share too
            ]
        ),
    )
    def collaborator_rights(
        self,
        companies: frozenset[Siren] | None,
        themes: frozenset[Theme] | None,
        chosen: int,
        operations: frozenset[Operation],
    ) -> None:
        """The administrator (in process A) changes the collaborator's rights: whole
        portfolio or chosen companies, every theme or chosen themes and documents."""
        if companies is not None and companies & self.removed:
            return  # rights name only companies of the portfolio
        documents = (
            frozenset(sorted(self.docs)[-chosen:]) if chosen and themes is not None else frozenset()
        )
        rights = Rights(
            CompanyScope.portfolio() if companies is None else CompanyScope(chosen=companies),
            DocumentScope.all()
            if themes is None
            else DocumentScope(themes=themes, documents=documents),
            operations,
        )
        if operations and Operation.VIEW not in operations:
            with pytest.raises(MalformedInput, match="granted with view"):
                self.a.box.entitlements.set_rights(self._admin(), COLLABORATOR, rights)
            return
        self.a.box.entitlements.set_rights(self._admin(), COLLABORATOR, rights)
        self.seen[COLLABORATOR] = Seen(companies, themes, documents, operations)

    def _admin(self) -> str:
        """A session of the administrator that the policy lets change rights now."""
        opened = OpenSession(open_session(ADMIN, "web", ("cap_identify",), self.now))
        self.a.box.store.commit([opened], [])
        return opened.session_id

    @precondition(lambda self: self.seen[ACCOUNTANT].companies)
    @rule()
    def revoke_the_accountant(self) -> None:
        self.a.box.entitlements.revoke_invitation(self._admin(), "inv-accepted")
        self.seen[ACCOUNTANT] = Seen(frozenset(), None)

    @precondition(lambda self: len(self.removed) < 2)
    @rule(company=st.sampled_from([C1, C2]))
    def remove_company(self, company: Siren) -> None:
        """The portfolio loses a company: nobody reaches its documents, a right naming it
        alone reaches nothing, an invitation naming it alone is revoked."""
        if company in self.removed:
            return
        self.a.box.entitlements.remove_company(self._admin(), company)
        self.removed.add(company)

    @rule(by=st.sampled_from([timedelta(hours=1), timedelta(days=20), timedelta(days=35)]))
    def time_passes(self, by: timedelta) -> None:
        self.advance(by)

    @rule()
    def the_expiry_job_runs(self) -> None:
        self.a.documents.expire()

    @precondition(lambda self: bool(self.docs))
    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        doc = self.docs[data.draw(st.sampled_from(sorted(self.docs)))]
        answer = self.client.delete(
            f"/api/v1/sender/documents/{doc.id}", headers=self.api.token(self.sender_client)
        )
        if doc.type in WITHDRAWABLE:
            assert answer.status_code == 204, answer.text
            doc.withdrawn = True
        else:
            assert answer.status_code == 409, answer.text

    @rule(
        who=st.sampled_from(USERS),
        data=st.data(),
        path=st.sampled_from(
            ["api", "api-content", "page", "view", "download", "share", "api-shares"]
        ),
    )
    def open_one(self, who: Principal, data: st.DataObject, path: str) -> None:
        """One document (or an id no document has) by one path."""
        doc_id = data.draw(st.sampled_from([NEVER, *sorted(self.docs)]))
        doc = self.docs.get(doc_id)
        if path in ("api", "api-content", "api-shares"):
            suffix = {"api": "", "api-content": "/content", "api-shares": "/shares"}[path]
            answer = self.get(who, f"/api/v1/documents/{doc_id}{suffix}")
        else:
            tail = {"page": "", "view": "/view", "download": "/download", "share": "/share"}
            answer = self.html(who).get(f"/documents/{doc_id}{tail[path]}")
        action = ACTION_OF.get(path, Operation.VIEW)
        allowed = self.may(who, doc, Operation.VIEW) and self.may(who, doc, action)
        assert answer.status_code == (200 if allowed else 404), (path, who, doc, answer.text)
        if allowed and path in ("api-content", "view", "download"):
            self.readers[who].read.add(doc_id)
            self.first_read.setdefault(doc_id, self.now)
        if allowed and path == "page":
            has_download = f"/documents/{doc_id}/download" in answer.text
            assert has_download == self.may(who, doc, Operation.DOWNLOAD)
            has_share = f"/documents/{doc_id}/share" in answer.text
            assert has_share == self.may(who, doc, Operation.SHARE)

    @rule(
        company=st.sampled_from([C1, C2]),
        data=st.data(),
        how=st.sampled_from(["meta", "content", "read"]),
    )
    def receiver_opens(self, company: Siren, data: st.DataObject, how: str) -> None:
        doc_id = data.draw(st.sampled_from([NEVER, *sorted(self.docs)]))
        doc = self.docs.get(doc_id)
        base = f"/api/v1/receiver/documents/{doc_id}"
        if how == "read":
            answer = self.receiver(company, "POST", f"{base}/read")
        else:
            answer = self.receiver(company, "GET", base + ("/content" if how == "content" else ""))
        allowed = doc is not None and self.live(doc) and doc.company == company
        assert answer.status_code == (200 if allowed else 404), (how, company, doc, answer.text)
        if allowed and how != "meta":
            self.receiver_read[company].add(doc_id)
            self.first_read.setdefault(doc_id, self.now)

    @initialize()
    def first_visits(self) -> None:
        """Every user has visited once (so that later visits have something "new")."""
        self.everyone_comes_home(timedelta(seconds=1))

    @rule(after=st.sampled_from([timedelta(seconds=1), timedelta(days=35)]))
    def everyone_comes_home(self, after: timedelta) -> None:
        """``after`` some time, each user's new session shows its first home page: the
        newest 20 and the count of new documents since the previous visit (this visit is
        recorded)."""
        self.advance(after)
        for who in USERS:
            self._ready(who)
            browser = self._html_login(who)
            try:
                page = browser.get("/home")
            finally:
                browser.close()
            assert page.status_code == 200, page.text
            reader = self.readers[who]
            reader.previous_visit, reader.current_visit = reader.current_visit, self.now
            expected = [d["id"] for d in self.listed(who)][:20]
            assert LINK.findall(page.text) == expected
            since = reader.previous_visit
            if since is None:
                assert "Welcome to your box." in page.text
                continue
            new = [d for d in self.visible(who) if d.published_at > since]
            found = NEW.search(page.text)
            assert found is not None, page.text
            assert int(found.group(1)) == len(new), (who, since, new)

    # -- what must hold ------------------------------------------------------------------

    @invariant()
    def every_list_agrees(self) -> None:
        for who in USERS:
            expected = self.visible(who)
            listed = self.listed(who)
            ids = [d["id"] for d in listed]
            assert sorted(ids) == sorted(d.id for d in expected), who
            published = [d["published_at"] for d in listed]
            assert published == sorted(published, reverse=True)
            read = {d["id"] for d in listed if d["read"]}
            assert read == self.readers[who].read & set(ids), who
            for theme in (PAYROLL, TAX):
                themed = [d["id"] for d in self.listed(who, theme=theme.name)]
                assert themed == [i for i in ids if self.docs[i].theme == theme]
            for company in (C1, C2):
                of = [d["id"] for d in self.listed(who, company=company.value)]
                assert of == [i for i in ids if self.docs[i].company == company]
            unread = [d["id"] for d in self.listed(who, read="unread")]
            assert unread == [i for i in ids if i not in read]
            page = self.html(who).get("/documents")
            if page.status_code in (303, 307) or "/login" in str(page.url):
                self.readers[who].html = None  # the session ended: log in again
                page = self.html(who).get("/documents")
            assert page.status_code == 200, page.text
            assert LINK.findall(page.text) == ids[:20], who
            for key, value in (("theme", TAX.name), ("company", C1.value), ("read", "read")):
                searched = self.html(who).get("/documents", params={key: value})
                assert searched.status_code == 200, searched.text
                api = [d["id"] for d in self.listed(who, **{key: value})]
                assert LINK.findall(searched.text) == api[:20], (who, key)

    @invariant()
    def receivers_see_their_company(self) -> None:
        for company in (C1, C2):
            out: list[str] = []
            cursor = None
            while True:
                params: dict[str, Any] = {"status": "all", "limit": 4}
                if cursor:
                    params["cursor"] = cursor
                page = self.receiver(company, "GET", "/api/v1/receiver/documents", **params)
                assert page.status_code == 200, page.text
                out += [d["id"] for d in page.json()["documents"]]
                cursor = page.json()["next"]
                if cursor is None:
                    break
            mine = {d.id for d in self.docs.values() if d.company == company and self.live(d)}
            assert sorted(out) == sorted(mine), company
            new = self.receiver(
                company, "GET", "/api/v1/receiver/documents", status="new", limit=100
            )
            assert {d["id"] for d in new.json()["documents"]} == mine - self.receiver_read[company]
            feed = self.receiver(company, "GET", "/api/v1/receiver/events", limit=500)
            assert feed.status_code == 200, feed.text
            events = feed.json()["events"]
            seqs = [e["seq"] for e in events]
            assert seqs == sorted(set(seqs))
            told = [e["document_id"] for e in events if e["kind"] == "document.new"]
            ever = sorted(
                d.id
                for d in self.docs.values()
                if d.company == company and company not in self.removed
            )
            assert sorted(told) == ever, company
            assert all(self.docs[e["document_id"]].company == company for e in events)
            read = [e["document_id"] for e in events if e["kind"] == "document.read"]
            assert sorted(read) == sorted(i for i in ever if i in self.first_read), company
            deleted = [e["document_id"] for e in events if e["kind"] == "document.deleted"]
            assert len(deleted) == len(set(deleted))
            assert {i for i in ever if self.docs[i].withdrawn} <= set(deleted)

    @invariant()
    def the_sender_sees_status_and_first_reads(self) -> None:
        sent: dict[str, dict[str, Any]] = {}
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 5, **({"cursor": cursor} if cursor else {})}
            page = self.client.get(
                "/api/v1/sender/documents",
                headers=self.api.token(self.sender_client),
                params=params,
            )
            assert page.status_code == 200, page.text
            sent |= {d["id"]: d for d in page.json()["documents"]}
            cursor = page.json()["next"]
            if cursor is None:
                break
        assert sorted(sent) == sorted(self.docs)
        for doc_id, doc in self.docs.items():
            out = sent[doc_id]
            first = self.first_read.get(doc_id)
            assert out["read"] == (first is not None), doc_id
            at = out["first_read_at"]
            assert (None if at is None else datetime.fromisoformat(at)) == first, doc_id
            if doc.withdrawn:
                assert out["status"] == "deleted", out
            elif self.now < doc.valid_until:
                assert out["status"] == "live", out


ReadPaths.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestReadPaths = ReadPaths.TestCase
