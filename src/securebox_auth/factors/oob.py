"""One-time codes sent by SMS or e-mail (out-of-band): issue and verify, as pure functions.

A code is 6 to 8 random digits from :mod:`secrets` (ASVS 5.0 6.5.2-6.5.3), stored only as a
peppered argon2id hash (the :class:`~securebox_auth.crypto.hashing.CodeHasher` of confidential
codes, under its own domain tag), valid at most 10 minutes (ASVS 6.5.4; NIST SP 800-63B-4
for SMS), accepted once (PSD2 RTS art. 4(1)), and **bound to the login or operation that
asked for it** (ASVS 6.6.2): a code sent to confirm payee A cannot confirm payee B, nor log
in. For a linked operation the message shows the amount and payee and the code is bound to
the digest of that data (RTS art. 5(1)).

Sending is throttled per user and per destination (ASVS 6.6.3; "SMS pumping"), with a
minimum interval between two codes (ASVS 6.6.4): the throttle is a pure :class:`SendLog`
the shell stores. Wrong codes count on the principal's shared lockout state, and a code is
burnt after ``max_wrong`` wrong tries. Delivery is the shell's job, through a
:class:`~securebox_auth.shell.gateways.Gateway`.

Issuing is in :mod:`.oob_issue`, verification in :mod:`.oob_verify`; this module
re-exports both, so every name is importable from here.
"""

from __future__ import annotations

from securebox_auth.factors.oob_issue import (
    Channel,
    IssueResult,
    OobChallenge,
    OobMessage,
    OobRules,
    SendLog,
    destination_key,
    inactive_issue,
    issue_oob,
    keyed_destination_key,
)
from securebox_auth.factors.oob_verify import OobFailure, OobVerdict, verify_oob

__all__ = [
    "Channel",
    "IssueResult",
    "OobChallenge",
    "OobFailure",
    "OobMessage",
    "OobRules",
    "OobVerdict",
    "SendLog",
    "destination_key",
    "inactive_issue",
    "issue_oob",
    "keyed_destination_key",
    "verify_oob",
]
