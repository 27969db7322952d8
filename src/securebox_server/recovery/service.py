"""Recovery's shell: flows in ``recovery_flows``, decisions from
:mod:`securebox_auth.flows.recovery`, credentials replaced by
:class:`~securebox_auth.shell.account_recovery.AccountRecovery`, messages off the request.

Every request answers the same for a claim that matches and one that does not: the flow
moves on in both cases (its state reveals nothing), the same reads are made and one audit
event is committed, and a message, when there is one, leaves on the dispatcher's thread.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from email.message import EmailMessage

from fastapi import Request
from sqlalchemy import Connection

from securebox_auth.audit import AuditEvent
from securebox_auth.errors import FlowExpired, MalformedInput
from securebox_auth.factors.oob import Channel
from securebox_auth.flows import recovery as core
from securebox_auth.flows.recovery import RecoveryFlow, RecoveryKind, RecoveryState
from securebox_auth.identity import Principal
from securebox_auth.shell import records
from securebox_auth.shell.account_recovery import NOBODY, AccountRecovery
from securebox_auth.shell.retry import retrying
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.recovery import messages
from securebox_server.recovery.dispatch import Dispatcher
from securebox_server.recovery.store import RecoveryStore, StoredFlow

__all__ = ["NOBODY", "RecoveryService", "service_of"]


def _plain(value: str) -> bytes:
    return "".join(value.split()).lower().encode()


class RecoveryService:
    def __init__(self, box: Securebox, store: RecoveryStore, key: bytes, public_url: str) -> None:
        self.box = box
        self.store = store
        self.accounts = AccountRecovery(box)
        self.dispatcher = Dispatcher()
        self._key = key
        self._base = public_url.rstrip("/")

    # -- flows ---------------------------------------------------------------------------

    def start(self, kind: RecoveryKind) -> RecoveryFlow:
        flow = core.start_recovery(kind, now=self.box.clock.now())
        self.store.create(flow)
        return flow

    def get(self, flow_id: str) -> StoredFlow:
        stored = self.store.get(flow_id)
        if stored is None:
            raise FlowExpired("no such recovery (finished, expired or unknown): start again")
        return stored

    def _digest(self, token: str) -> str:
        return hmac.new(self._key, b"recovery-link\n" + token.encode(), hashlib.sha256).hexdigest()

    def event(
        self, action: str, principal: Principal, flow: RecoveryFlow, outcome: str
    ) -> AuditEvent:
        """An audit event of ``flow`` (its reference only: never a token, code or address)."""
        return AuditEvent.make(
            self.box.clock.now(), action, actor=f"recovery:{flow.kind.value}",
            subject=principal.key, outcome=outcome,
            details={"flow": records.flow_ref(flow.id)},
        )  # fmt: skip

    def audit(self, action: str, principal: Principal, flow: RecoveryFlow, outcome: str) -> None:
        self.box.store.commit([], [self.event(action, principal, flow, outcome)])

    def destination(self, principal: Principal, channel: Channel, wanted: str | None) -> str | None:
        """The verified destination of ``principal`` on ``channel`` (the one equal to
        ``wanted`` when given), compared in constant time over every destination."""
        found = None
        plain = _plain(wanted or "")
        for known in self.box.factors.oob.destinations(principal):
            same = hmac.compare_digest(_plain(known.destination), plain)
            if known.channel is channel and (wanted is None or same) and found is None:
                found = known.destination
        return found

    # -- forgotten code: an e-mail link --------------------------------------------------

    def request_link(
        self, flow_id: str, client_id: str, user_number: str, email: str, lang: str
    ) -> RecoveryFlow:
        """Identifiers and e-mail address: a link, valid the policy's
        ``reset_link_lifetime``, is mailed when they match a verified address."""
        if not isinstance(email, str) or not 3 <= len(email) <= 320 or "@" not in email:
            raise MalformedInput("an e-mail address is expected")
        stored = self.awaiting(flow_id, RecoveryKind.CODE_BY_EMAIL)
        principal = self.box.codes.parse_principal(client_id, user_number)
        account = self.box.store.get_account(principal)
        address = self.destination(principal, Channel.EMAIL, email)
        matched = account is not None and account.value.active and address is not None
        now = self.box.clock.now()
        lifetime = self.box.policy.recovery.reset_link_lifetime
        moved = core.address_given(stored.flow, now=now, link_lifetime=lifetime)
        token = secrets.token_urlsafe(32)
        digest = self._digest(token)
        who = principal if matched else None
        if not self.store.claim(
            stored, moved, who, digest if matched else None, supersede=who or NOBODY
        ):
            raise FlowExpired("this recovery moved on: start again")
        self.audit("recovery.request", principal, moved, "sent" if matched else "no_match")
        if matched and address is not None:
            hours = max(1, int(lifetime.total_seconds() // 3600))
            link = f"{self._base}/recovery/link/{token}"
            self._mail(lambda: messages.link_mail(address, link, hours, lang))
        return moved

    def awaiting(self, flow_id: str, kind: RecoveryKind) -> StoredFlow:
        stored = self.get(flow_id)
        if stored.flow.kind is not kind:
            raise FlowExpired("no such recovery (finished, expired or unknown): start again")
        return stored

    def link(self, token: str) -> StoredFlow:
        """The flow of a link still usable, else :class:`FlowExpired` (one answer for a
        link never sent, used, superseded or past its lifetime)."""
        if not isinstance(token, str) or not 20 <= len(token) <= 100:
            raise FlowExpired("this link is not valid any more: ask for a new one")
        stored = self.store.by_token(self._digest(token))
        now = self.box.clock.now()
        if (
            stored is None
            or stored.principal is None
            or stored.flow.state is not RecoveryState.AWAITING_CODE
            or stored.flow.expired(now)
        ):
            raise FlowExpired("this link is not valid any more: ask for a new one")
        return stored

    def use_link(self, token: str, new_code: object, lang: str) -> RecoveryFlow:
        """Choose the new code through the link: the code is checked first (a weak one
        does not use the link), then one commit of the library's store (ADR 0023) uses up
        the link (compare-and-swap on the flow: one use wins), replaces the code, ends
        every session and seals the audit events, all or nothing; a lost compare-and-swap
        of the library's records starts again from a fresh read. A link whose recovery
        began before the account was created (the number given to someone else since) or
        before every session of it was last ended (a removal, "log out everywhere") is not
        valid any more (ADR 0069). The user is told by SMS once committed."""
        store = self.box.store
        if not isinstance(store, SqlStore):
            raise MalformedInput("recovery needs the SQL store")

        def attempt() -> RecoveryFlow:
            stored = self.link(token)
            principal = stored.principal
            assert principal is not None
            now = self.box.clock.now()
            changes, events = self.accounts.code_reset(
                principal, new_code, via="email", now=now, begun_at=stored.flow.created_at
            )
            passed = core.challenge_answered(stored.flow, now=now, passed=True)
            done = core.finish(passed, now=now)

            def consume(conn: Connection) -> None:
                if not self.store.move_on(conn, stored, done):
                    raise FlowExpired("this link is not valid any more: ask for a new one")

            used = self.event("recovery.code_reset", principal, done, "success")
            store.commit(changes, [*events, used], also=consume)
            self.notify(principal, Channel.SMS, "code_reset", lang)
            return done

        return retrying(attempt, what="recovery")

    # -- messages ------------------------------------------------------------------------

    def _mail(self, compose: Callable[[], EmailMessage]) -> None:
        """Compose and send on the dispatcher's thread (the request does neither)."""
        gateway: object = self.box.gateways.get("email")
        if isinstance(gateway, messages.MailSender):
            self.dispatcher.submit("mail", lambda: gateway.send_mail(compose()))

    def text(self, to: str, text: str) -> None:
        gateway: object = self.box.gateways.get("sms")
        if isinstance(gateway, messages.TextSender):
            reference = secrets.token_hex(8)
            send: Callable[[], None] = lambda: gateway.send_text(to, text, reference=reference)  # noqa: E731
            self.dispatcher.submit("sms", send)

    def notify(self, principal: Principal, channel: Channel, what: str, lang: str) -> None:
        """Tell the user on their other channel (nothing when they have none)."""
        to = self.destination(principal, channel, None)
        if to is None:
            return
        subject, text = messages.notice(what, lang)
        if channel is Channel.EMAIL:

            def compose() -> EmailMessage:
                mail = EmailMessage()
                mail["To"] = to
                mail["Subject"] = subject
                mail.set_content(text + "\n")
                return mail

            self._mail(compose)
        else:
            self.text(to, text)


def service_of(request: Request) -> RecoveryService:
    found: RecoveryService = request.app.state.recovery
    return found
