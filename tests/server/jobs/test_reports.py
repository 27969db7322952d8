"""The SMS provider's delivery reports (``POST /hooks/sms/reports``): a failed delivery
marks the digest's rows ``bounced``; the bearer token is required; no existence oracle."""

from __future__ import annotations

import sqlalchemy as sa

from securebox_server.db.schema import BOX_NOTIFICATIONS
from securebox_server.jobs.digest import idempotency_key
from tests.server.conftest import AppMaker

TOKEN = "sms-t0ken"


def _sent_row(engine: sa.Engine, message: str) -> None:
    now = sa.func.now()
    with engine.begin() as conn:
        conn.execute(
            BOX_NOTIFICATIONS.insert().values(
                id="n1", kind="new_document", document_id="d1", client_id="123456789",
                company="732829320", user_number="01", status="sent", attempts=1,
                next_attempt_at=now, created_at=now, sent_at=now, channel="sms",
                message_id=message,
            )
        )  # fmt: skip


def test_a_failed_delivery_report_is_a_bounce(make_app: AppMaker) -> None:
    client, box, _ = make_app(sms_url=f"http://{TOKEN}@127.0.0.1:9/send")
    engine = box.store.engine  # type: ignore[attr-defined]
    message = "<abc.box@bank.example>"
    _sent_row(engine, message)
    reference = idempotency_key(message)
    hook = "/hooks/sms/reports"
    body = {"reference": reference, "status": "undeliverable", "error": "absent subscriber"}
    assert client.post(hook, json=body).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.post(hook, json=body, headers=wrong).status_code == 401
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post(hook, json={**body, "status": "lost"}, headers=good).status_code == 400
    delivered = {**body, "status": "delivered"}
    assert client.post(hook, json=delivered, headers=good).status_code == 204
    with engine.connect() as conn:
        assert conn.execute(sa.select(BOX_NOTIFICATIONS.c.status)).scalar() == "sent"
    assert client.post(hook, json=body, headers=good).status_code == 204
    with engine.connect() as conn:
        row = conn.execute(sa.select(BOX_NOTIFICATIONS)).mappings().one()
    assert (row["status"], row["last_error"]) == ("bounced", "sms undeliverable: absent subscriber")
    unknown = {**body, "reference": "nothing.box@bank.example"}
    assert client.post(hook, json=unknown, headers=good).status_code == 204


def test_no_report_hook_without_an_sms_gateway(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    answer = client.post("/hooks/sms/reports", json={"reference": "x", "status": "failed"})
    assert answer.status_code in (403, 404)
