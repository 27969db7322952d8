"""The JSON API under ``/api/v1`` (issue 14): the login and step-up flows as resources
(Ory Kratos' model: an id, a state, an expiry and the next actions), RFC 9470 challenges
on protected operations, signed assertions with a JWKS shared by every worker, and RFC
9457 problem details. ``docs/api.md`` is the guide; ADR 0028 records the choices.

Modules: :mod:`.keys` (token keys and sealed flow ids), :mod:`.models` (the JSON shapes),
:mod:`.common` (authentication, problems, answers), :mod:`.login`, :mod:`.step_up`,
:mod:`.operations` (protected operations, RFC 9470), :mod:`.tokens` (JWKS and assertions).

The digital box (issue 15, ``docs/box-api.md``, ADR 0035): :mod:`.senders` (publication,
idempotent), :mod:`.receivers` (event feed, documents, mark read), :mod:`.documents` (a
user's box), sharing :mod:`.box_models`, :mod:`.box_common`, :mod:`.idempotency`,
:mod:`.multipart`, :mod:`.content` and :mod:`.cursors`.
"""
