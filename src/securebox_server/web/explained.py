"""Errors the server explains to an API client in words of its own.

A problem document carries a stable ``code`` and the fixed ``title`` of that code (never
library text: a library message may name a record or echo input). Some refusals need more
than their code to be understood, e.g. which field of a form is wrong and what it expects.
An error that mixes in :class:`Explained` promises that its ``str()`` is a sentence the
server wrote for the user (a fixed message, filled only with the server's own values, never
with the input or a library's text): the JSON API then adds it as the problem's ``detail``
(RFC 9457 § 3.1.4). Pages show the same sentence translated, where the form is.
"""

from __future__ import annotations

__all__ = ["Explained"]


class Explained:
    """Mixin of an error whose ``str()`` may be shown to a client (see the module)."""

    __slots__ = ()
