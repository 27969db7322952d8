"""The payments API against real assertions of a real reference server: the RFC 9470
challenge, the step-up bound to the transfer, single use across processes, and the
refusals (another amount or payee, another user, another audience, an unknown key, a
tampered token, a replay)."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
from securebox_auth.audit import verify_chain
from securebox_auth.identity import Principal
from securebox_auth.policy.session import open_session
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.tokens.assertions import TokenKeys, issue_assertion

from payments_rs.consume import GRANT_KIND
from payments_rs.reference import PortalClient, ReferenceServer
from tests.conftest import PAYEE, Payments

TRANSFER = {
    "client_id": "123456789",
    "user_number": "01",
    "amount": "150.00",
    "currency": "EUR",
    "payee": PAYEE,
}
PROBLEM = "application/problem+json"


def post(base: str, assertion: str, body: dict[str, str]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {assertion}"}
    return httpx.post(f"{base}/transfers", json=body, headers=headers, timeout=60)


def statements(base: str, assertion: str, user: str = "01") -> httpx.Response:
    return httpx.get(
        f"{base}/statements",
        params={"client_id": "123456789", "user_number": user},
        headers={"Authorization": f"Bearer {assertion}"},
        timeout=60,
    )


def invalid_token(answer: httpx.Response, code: str) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["code"] == code
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="payments", error="invalid_token"')


def test_a_login_alone_gets_the_rfc_9470_challenge(
    payments: Payments, portal: PortalClient
) -> None:
    assertion = portal.assertion(portal.login())
    refused = post(payments.bases[0], assertion, TRANSFER)
    assert refused.status_code == 401, refused.text
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_user_authentication"')
    assert 'acr_values="urn:securebox:acr:sca"' in challenge
    assert 'max_age="0"' in challenge  # for this operation only
    problem = refused.json()
    assert refused.headers["content-type"] == PROBLEM
    assert problem["code"] == "insufficient_user_authentication"
    assert problem["reason"] == "no_grant"
    assert problem["acr_values"] == ["urn:securebox:acr:sca"]
    assert problem["max_age"] == 0


def test_the_approved_transfer_is_accepted_once_and_nothing_else(
    payments: Payments, portal: PortalClient
) -> None:
    token = portal.step_up_transfer(portal.login(), "150.00", "EUR", PAYEE)
    assertion = portal.assertion(token)
    one, other = payments.bases
    for changed in (
        {"amount": "150.01"},
        {"amount": "1500.00"},
        {"payee": "BE71096123456769"},
        {"currency": "USD"},
    ):
        refused = post(one, assertion, {**TRANSFER, **changed})
        assert refused.status_code == 401, (changed, refused.text)
        assert refused.json()["reason"] == "grant_mismatch"
        assert 'max_age="0"' in refused.headers["www-authenticate"]
    invalid_token(post(one, assertion, {**TRANSFER, "user_number": "02"}), "invalid_subject")

    accepted = post(one, assertion, TRANSFER)
    assert accepted.status_code == 201, accepted.text
    body = accepted.json()
    assert body["ordered_by"] == "123456789:01"
    assert body["acr"] == "urn:securebox:acr:sca:phr"  # a certificate: phishing-resistant
    assert "mfa" in body["amr"]
    invalid_token(post(other, assertion, TRANSFER), "token_replayed")  # another process
    # another assertion of the same session carries the same grant: spent as well
    invalid_token(post(other, portal.assertion(token), TRANSFER), "token_replayed")

    store = open_sql_store(payments.settings.database_url, audit_key=audit_key(payments))
    try:
        principal = Principal.parse("123456789", "01")
        assert len(store.factor_states(principal, GRANT_KIND)) == 1
        events = [e for e in store.audit_log() if e.event.action == "payments.approval"]
        outcomes = [(e.event.outcome, dict(e.event.details).get("reason")) for e in events]
        assert ("success", None) in outcomes
        assert ("refused", "assertion_replayed") in outcomes
        assert ("refused", "grant_spent") in outcomes
        for tenant in store.audit_tenants():
            assert verify_chain(audit_key(payments), list(store.audit_log(tenant))) > 0
    finally:
        store.engine.dispose()


def audit_key(payments: Payments) -> bytes:
    return bytes.fromhex(payments.settings.audit_key_file.read_text().strip())


def test_concurrent_requests_in_three_processes_spend_an_approval_once(
    payments: Payments, portal: PortalClient
) -> None:
    body = {**TRANSFER, "amount": "980.00"}
    token = portal.step_up_transfer(portal.login(), "980.00", "EUR", PAYEE)
    first, second = portal.assertion(token), portal.assertion(token)  # same grant, two jti

    def one(i: int) -> int:
        base = payments.bases[i % 2]  # two servers, three worker processes
        return post(base, first if i % 3 else second, body).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(one, range(10)))
    assert statuses == [201] + [401] * 9


def test_statements_need_a_strong_recent_login(
    payments: Payments, portal: PortalClient, strong_session: tuple[PortalClient, str]
) -> None:
    simple = statements(payments.bases[0], portal.assertion(portal.login()))
    assert simple.status_code == 401, simple.text
    challenge = simple.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_user_authentication"')
    assert 'acr_values="urn:securebox:acr:sca urn:securebox:acr:sca:phr"' in challenge
    assert 'max_age="3600"' in challenge
    client, token = strong_session
    strong = statements(payments.bases[1], client.assertion(token))
    assert strong.status_code == 200, strong.text
    assert strong.json()["owner"] == "123456789:01"
    # not single use: the same assertion reads again
    assert statements(payments.bases[0], client.assertion(token)).status_code == 200


def test_an_assertion_for_another_service_is_refused(
    payments: Payments, strong_session: tuple[PortalClient, str]
) -> None:
    client, token = strong_session
    documents = client.assertion(token, audience="documents")
    invalid_token(statements(payments.bases[0], documents), "invalid_audience")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_tampered_assertion_is_refused(
    payments: Payments, portal: PortalClient, strong_session: tuple[PortalClient, str]
) -> None:
    simple = portal.assertion(portal.login())
    head, payload, signature = simple.split(".")
    claims = json.loads(_unb64(payload))
    claims["acr"] = "urn:securebox:acr:sca:phr"  # claim more than was proven
    claims["amr"] = ["pwd", "hwk", "mfa"]
    forged = ".".join([head, _b64(json.dumps(claims).encode()), signature])
    invalid_token(statements(payments.bases[0], forged), "invalid_token")
    client, token = strong_session
    strong = client.assertion(token)
    head, payload, signature = strong.split(".")
    claims = json.loads(_unb64(payload))
    claims["sub"] = "123456789:02"  # hand someone else's proof to user 02
    forged = ".".join([head, _b64(json.dumps(claims).encode()), signature])
    invalid_token(statements(payments.bases[0], forged, user="02"), "invalid_token")
    unsigned = ".".join([_b64(b'{"alg":"none","typ":"sbx-assertion+jwt"}'), payload, ""])
    invalid_token(statements(payments.bases[0], unsigned), "invalid_token")


def test_an_assertion_signed_by_an_unknown_key_is_refused(
    payments: Payments, reference: ReferenceServer
) -> None:
    """A well-formed strong assertion, right issuer and audience, signed by a key the
    issuer never published: a new kid, and the published kid with another key."""
    principal = Principal.parse("123456789", "01")
    now = datetime.now(UTC).replace(microsecond=0)
    session = open_session(principal, "web", ["certificate", "confidential_code"], now)
    published = httpx.get(f"{reference.base}/api/v1/.well-known/jwks.json").json()
    kid = published["keys"][0]["kid"]
    for rogue in (TokenKeys.generate("a-rogue", "EdDSA"), TokenKeys.generate(kid, "EdDSA")):
        forged = issue_assertion(
            session, keys=rogue, issuer=reference.issuer, audience="payments", now=now
        )
        invalid_token(statements(payments.bases[0], forged), "invalid_token")


def test_requests_without_a_usable_assertion_or_body(payments: Payments) -> None:
    base = payments.bases[0]
    bare = httpx.post(f"{base}/transfers", json=TRANSFER)
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"] == 'Bearer realm="payments"'
    assert bare.json()["code"] == "not_authenticated"
    basic = httpx.post(f"{base}/transfers", json=TRANSFER, headers={"Authorization": "Basic x"})
    assert basic.status_code == 401
    garbage = post(base, "not.a.jwt", TRANSFER)
    invalid_token(garbage, "invalid_token")
    for body in ({**TRANSFER, "amount": "-5"}, {**TRANSFER, "client_id": "12"}, {"x": 1}):
        malformed = post(base, "not.a.jwt", body)  # type: ignore[arg-type]
        assert malformed.status_code == 400, malformed.text
        assert malformed.headers["content-type"] == PROBLEM
    assert httpx.get(f"{base}/nowhere").status_code == 404
    assert httpx.delete(f"{base}/transfers").status_code == 405
