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

GLOBALS: Final = {
    "kind_labels": KIND_LABELS,
    "display_labels": DISPLAY_LABELS,
    "role_labels": ROLE_LABELS,
    "status_labels": STATUS_LABELS,
    "invitation_labels": INVITATION_LABELS,
}
