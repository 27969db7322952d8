"""What the profile's pages share: the profile store of the app, and the rule for a
sensitive change (removing a factor, new recovery codes, a contact change, a new factor).

The rule is the library's, not the server's: :meth:`Securebox.enrolling` (ADR 0016) asks
the session to be live and to cover the categories of the policy's ``factor_enrolment``
operation, the latest proof at most its ``max_age`` old (by default two categories within
15 minutes). A session that does not gets the "authenticate strongly again" page (403)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Request
from starlette.responses import Response

from securebox_auth.errors import MalformedInput, NotPermitted, StepUpNeeded
from securebox_auth.identity import Principal
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.profile.store import ProfileStore
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import WebSession

__all__ = ["ANY_FACTOR", "Refused", "install_store", "refused_page", "sensitive", "store_of"]

#: Methods for :func:`sensitive` when the change concerns no one method: the library always
#: accepts recovery codes as enrollable, so only the strength rule decides.
ANY_FACTOR: tuple[str, ...] = ("recovery_code",)


class Refused(Exception):
    """A sensitive change refused: ``why`` is ``not_strong`` or ``not_permitted``."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def install_store(app: FastAPI, box: Securebox) -> None:
    """Keep the profile store of ``box``'s database on the app (none without SQL)."""
    store = box.store
    app.state.profile = ProfileStore(store) if isinstance(store, SqlStore) else None


def store_of(request: Request) -> ProfileStore:
    found = getattr(request.app.state, "profile", None)
    if not isinstance(found, ProfileStore):
        raise MalformedInput("the profile needs the SQL store")
    return found


def sensitive(request: Request, web: WebSession, methods: Sequence[str] = ANY_FACTOR) -> Principal:
    """The principal when the session may make a sensitive change now, else :class:`Refused`."""
    try:
        return server_of(request).box.enrolling(web.session_id, methods)
    except StepUpNeeded:
        raise Refused("not_strong") from None
    except NotPermitted:
        raise Refused("not_permitted") from None


def refused_page(request: Request, refused: Refused) -> Response:
    return render(request, "profile/refused.html", status=403, why=refused.why)
