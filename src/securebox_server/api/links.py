"""OpenAPI links (OpenAPI 3.1 §4.8.20): where a value of one answer feeds another operation
(a flow's ``id`` its answers, a document's ``id`` its body, a page's ``next`` the next
page). They are part of the published document, so a client (and schemathesis' state
machine, ``tests/server/api/test_stateful.py``) can follow them.

A link names its target by ``operationRef`` (the path and method, a JSON pointer into the
document itself), not by the generated ``operationId``: renaming a route's function does
not break it, and a path that does not exist fails the document's own test."""

from __future__ import annotations

from typing import Any, Final

from securebox_server.api.common import PREFIX

__all__ = ["NEXT_PAGE", "document_links", "flow_links", "link", "linked", "user_document_links"]


def link(method: str, path: str, parameters: dict[str, str], description: str) -> dict[str, Any]:
    """A link to ``method path`` (``path`` as in the document, ``{name}`` placeholders),
    ``parameters`` mapping ``location.name`` to a runtime expression."""
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {
        "operationRef": f"#/paths/{pointer}/{method.lower()}",
        "parameters": parameters,
        "description": description,
    }


def linked(
    description: str, links: dict[str, dict[str, Any]], base: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A response entry of a route's ``responses`` (``base``: its other fields) with
    ``links``."""
    return {**(base or {}), "description": description, "links": links}


def flow_links(flows: str, expression: str = "$response.body#/id") -> dict[str, dict[str, Any]]:
    """A flow's operations (``flows``: ``login/flows`` or ``step-ups``) on the flow whose
    id is ``expression``."""
    base = f"{PREFIX}/{flows}/{{flow_id}}"
    ids = {"path.flow_id": expression}
    return {
        "GetFlow": link("get", base, ids, "The flow's state"),
        "Answer": link("post", f"{base}/answers", ids, "Answer the flow"),
        "Challenge": link("post", f"{base}/challenges", ids, "What a method answers over"),
    }


def user_document_links(expression: str) -> dict[str, dict[str, Any]]:
    """A user's operations on the document whose id is ``expression``."""
    ids = {"path.document_id": expression}
    mine = f"{PREFIX}/documents/{{document_id}}"
    return {
        "UserDocument": link("get", mine, ids, "The document's metadata (a user)"),
        "UserContent": link("get", f"{mine}/content", ids, "Its body (a user)"),
    }


def document_links(expression: str, *, user: bool = True) -> dict[str, dict[str, Any]]:
    """The receiver's operations on the document whose id is ``expression``, and the
    user's (``user``)."""
    ids = {"path.document_id": expression}
    receiver = f"{PREFIX}/receiver/documents/{{document_id}}"
    out = {
        "ReceiverDocument": link("get", receiver, ids, "The document's metadata"),
        "ReceiverContent": link("get", f"{receiver}/content", ids, "Its body"),
        "ReceiverMarkRead": link("post", f"{receiver}/read", ids, "Mark it read"),
    }
    return {**out, **user_document_links(expression)} if user else out


#: The ``next`` of a page of documents, as the next request's ``cursor``.
NEXT_PAGE: Final = {"query.cursor": "$response.body#/next"}
