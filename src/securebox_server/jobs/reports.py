"""The SMS provider's delivery reports: ``POST /hooks/sms/reports`` (mounted when
``sms_url`` is set).

A server-to-server callback, authenticated by the same bearer token the server sends its
SMS with (``Authorization: Bearer <token>``, compared in constant time); no cookie, so no
CSRF token: it is exempt from the CSRF check for that reason. The JSON body names the
``reference`` the server gave the SMS (the digest's Message-ID without its angle brackets,
also its ``Idempotency-Key``) and a ``status``: ``delivered`` changes nothing (the row is
already ``sent``); ``failed``, ``undeliverable``, ``rejected`` or ``expired`` mark the
digest's rows ``bounced`` with the provider's ``error`` text (200 characters at most). The
answer is ``204`` whether or not the reference names a digest (no existence oracle).
The protocol is in ``docs/notifications.md``.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from securebox_auth.errors import NotAuthenticated
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.delivery import sms_gateway
from securebox_server.jobs.outbox import Outbox
from securebox_server.web.context import server_of
from securebox_server.web.routing import SecureRoute, csrf_exempt

__all__ = ["DeliveryReport", "router"]

FAILED: Final = frozenset({"failed", "undeliverable", "rejected", "expired"})

router = APIRouter(route_class=SecureRoute)


class DeliveryReport(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    reference: str = Field(min_length=1, max_length=200)
    status: Literal["delivered", "failed", "undeliverable", "rejected", "expired"]
    error: str = Field(default="", max_length=500)


@router.post("/hooks/sms/reports", status_code=204)
@csrf_exempt  # a provider's callback, authenticated by its bearer token: no browser
def sms_report(
    report: DeliveryReport,
    request: Request,
    authorization: Annotated[str, Header()] = "",
) -> Response:
    server = server_of(request)
    url = server.settings.sms_url
    given = authorization.removeprefix("Bearer ").encode()
    if not url or not hmac.compare_digest(given, sms_gateway(url).token.encode()):
        raise NotAuthenticated("a delivery report needs the SMS gateway's bearer token")
    store = server.box.store
    if report.status in FAILED and isinstance(store, SqlStore):
        reason = f"sms {report.status}: {report.error}".strip().rstrip(":")
        Outbox(store.engine, "sms-reports").record_bounce(report.reference, reason)
    return Response(status_code=204)
