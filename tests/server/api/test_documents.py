"""The box for a user's API session (bearer), through the real app on SQLite and
PostgreSQL: the newest documents and a search with the pages' filters and cursors, one
document's metadata, its body (a recorded download), and 404 for what the user may not
see."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from securebox_server.api.content import repr_digest
from tests.server.api.box_app import *  # noqa: F403 (fixtures)
from tests.server.api.box_app import BoxApi, pdf
from tests.server.api.test_senders import problem
from tests.server.box.conftest import C1, C2, COLLABORATOR

DOCS = "/api/v1/documents"


def test_a_user_lists_searches_and_downloads(box_api: BoxApi) -> None:
    now = box_api.world.clock.now()
    made = []
    for n, (company, label) in enumerate(
        [(C1, "Payslip March"), (C2, "Payslip April"), (C1, "Bonus letter")]
    ):
        answer = box_api.publish(
            f"u-{n}",
            pdf(40 + n),
            companies=[company.value],
            label=label,
            issued_at=now - timedelta(days=10 - n),
        )
        made.append(answer.json()["results"][0]["document_id"])
    [tax] = [
        box_api.publish("u-tax", pdf(50), type_="tax-notice").json()["results"][0]["document_id"]
    ]
    user = box_api.user_token(COLLABORATOR)  # payroll only, every company
    newest = box_api.client.get(DOCS, headers=user).json()
    assert [d["id"] for d in newest["documents"]] == made[::-1]
    assert newest["next"] is None
    page = box_api.client.get(DOCS, params={"limit": 2}, headers=user).json()
    rest = box_api.client.get(DOCS, params={"limit": 2, "cursor": page["next"]}, headers=user)
    assert [d["id"] for d in page["documents"] + rest.json()["documents"]] == made[::-1]
    found = box_api.client.get(DOCS, params={"label": "payslip"}, headers=user).json()
    assert [d["id"] for d in found["documents"]] == [made[1], made[0]]
    one_company = box_api.client.get(DOCS, params={"company": C2.value}, headers=user).json()
    assert [d["id"] for d in one_company["documents"]] == [made[1]]
    day = (now - timedelta(days=10)).date().isoformat()
    dated = box_api.client.get(DOCS, params={"from": day, "to": day}, headers=user).json()
    assert [d["id"] for d in dated["documents"]] == [made[0]]
    assert box_api.client.get(DOCS, params={"theme": "tax"}, headers=user).json()["documents"] == []
    # one document, its body, then it is read
    meta = box_api.client.get(f"{DOCS}/{made[0]}", headers=user).json()
    assert meta["read"] is False
    body = box_api.client.get(f"{DOCS}/{made[0]}/content", headers=user)
    assert body.status_code == 200
    assert hashlib.sha256(body.content).hexdigest() == meta["digest"]
    assert body.headers["repr-digest"] == repr_digest(meta["digest"])
    assert body.headers["cache-control"] == "no-store"
    after = box_api.client.get(f"{DOCS}/{made[0]}", headers=user).json()
    assert after["read"] is True
    assert after["first_read_at"] is not None
    unread = box_api.client.get(DOCS, params={"read": "unread"}, headers=user).json()
    assert [d["id"] for d in unread["documents"]] == [made[2], made[1]]
    # the tax notice is not the collaborator's: 404, like a missing document
    for url in (f"{DOCS}/{tax}", f"{DOCS}/{tax}/content", f"{DOCS}/dNoSuchDocument0"):
        problem(box_api.client.get(url, headers=user), 404, "document_not_found")


def test_the_documents_api_needs_a_session(box_api: BoxApi) -> None:
    problem(box_api.client.get(DOCS), 401, "not_authenticated")
    receiver = box_api.token(box_api.receiver_c1)
    problem(box_api.client.get(DOCS, headers=receiver), 401, "not_authenticated")


def test_bad_filters_are_400(box_api: BoxApi) -> None:
    user = box_api.user_token(COLLABORATOR)
    for params in (
        {"from": "2026-03-02", "to": "2026-03-01"},
        {"theme": "Not A Theme"},
        {"company": "123456780"},
        {"cursor": "forged"},
        {"read": "maybe"},
        {"limit": "0"},
    ):
        answer = box_api.client.get(DOCS, params=params, headers=user)
        assert answer.status_code == 400, (params, answer.text)


def test_documents_carry_the_sender_name_and_the_theme_label(box_api: BoxApi) -> None:
    """The sender's registered API client name ("Back office") and the theme's label in the
    request's language, next to their ids (SQLite and PostgreSQL)."""
    doc_id = box_api.publish("n-1", pdf(60)).json()["results"][0]["document_id"]
    user = box_api.user_token(COLLABORATOR)
    [listed] = box_api.client.get(DOCS, headers=user).json()["documents"]
    assert listed["sender"] == box_api.sender.client.sender
    assert listed["sender_name"] == "Back office"
    assert (listed["theme"], listed["theme_label"]) == ("payroll", "Paie")  # French first
    english = {**user, "Accept-Language": "en"}
    one = box_api.client.get(f"{DOCS}/{doc_id}", headers=english).json()
    assert one["theme_label"] == "Payroll"
    assert one["sender_name"] == "Back office"


def test_a_page_is_the_json_fastapi_would_have_made_of_its_model(box_api: BoxApi) -> None:
    """The list endpoints serialise their model once (``model_json``): the body is what
    FastAPI's own validation and encoding of the route's ``response_model`` gives, every
    field present (``null`` ones too), under its name."""
    import json  # noqa: PLC0415

    from fastapi.encoders import jsonable_encoder  # noqa: PLC0415

    from securebox_server.api.box_models import DocumentOut, DocumentPage  # noqa: PLC0415

    for n in range(3):
        box_api.publish(f"j-{n}", pdf(60 + n), label=f"Letter {n}")
    answer = box_api.client.get(DOCS, headers=box_api.user_token(COLLABORATOR))
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert json.loads(answer.content) == jsonable_encoder(DocumentPage.model_validate(body))
    assert len(body["documents"]) == 3
    for doc in body["documents"]:
        assert set(doc) == set(DocumentOut.model_fields)
