"""English labels (msgids of the catalogs) the step-up templates translate."""

from __future__ import annotations

from typing import Final

__all__ = ["GLOBALS"]

KIND_LABELS: Final = {
    "payee": "Add a payee",
    "cheque_book": "Order cheque books",
    "transfer": "SEPA instant transfer",
    "batch": "Sign a payment batch",
    "entitlement": "Change of role",
    "company_add": "Add a company",
    "company_remove": "Remove a company",
    "third_party_invite": "Invite a third party",
    "third_party_revoke": "Revoke a third party",
    "invitation_accept": "Accept an invitation",
    "invitation_decline": "Decline an invitation",
    "user_add": "Add a user",
    "user_edit": "Change a user",
    "user_remove": "Remove a user",
    "code_regenerate": "New confidential code for a user",
    "unblock": "Unblock a user",
    "delivery": "Paper or digital delivery",
}
#: the keys of ``OperationRequest.display()`` (securebox_auth.policy.linking)
DISPLAY_LABELS: Final = {
    "amount": "Amount approved",
    "payee": "Payee approved",
    "batch total": "Batch total",
    "payments": "Number of payments",
    "payees": "Payees approved",
}
ROLE_LABELS: Final = {
    "principal_user": "Principal user",
    "administrator": "Administrator",
    "access_manager": "Access manager",
    "user": "User",
    "third_party": "Third party",
}
STATUS_LABELS: Final = {"pending": "Waiting for approval", "done": "Done", "refused": "Refused"}

INVITATION_LABELS: Final = {
    "pending": "Pending acceptance",
    "added": "Added",
    "declined": "Declined",
    "revoked": "Revoked",
    "expired": "Expired",
}
#: What became of a new confidential code (never the code itself: ASVS 5 6.4.6).
NOTE_LABELS: Final = {
    "sent_sms": "The new code was sent to the user by SMS.",
    "sent_email": "The new code was sent to the user by e-mail.",
    "sent_letter": "The new code will be posted to the user by letter.",
    "undelivered": "The new code could not be delivered: generate another one.",
}
CHANNEL_LABELS: Final = {"sms": "SMS", "email": "E-mail", "letter": "Letter by post"}
USER_STATUS_LABELS: Final = {
    "pending": "Pending acceptance",
    "added": "Added",
    "blocked": "Blocked",
    "removed": "Removed",
}
ADMIN_KIND_NAMES: Final = frozenset(
    {"user_add", "user_edit", "user_remove", "code_regenerate", "unblock", "delivery"}
)

GLOBALS: Final = {
    "kind_labels": KIND_LABELS,
    "display_labels": DISPLAY_LABELS,
    "role_labels": ROLE_LABELS,
    "status_labels": STATUS_LABELS,
    "invitation_labels": INVITATION_LABELS,
    "note_labels": NOTE_LABELS,
    "admin_kind_names": ADMIN_KIND_NAMES,
    "channel_labels": CHANNEL_LABELS,
    "user_status_labels": USER_STATUS_LABELS,
}
