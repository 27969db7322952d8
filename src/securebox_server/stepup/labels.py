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

GLOBALS: Final = {
    "kind_labels": KIND_LABELS,
    "display_labels": DISPLAY_LABELS,
    "role_labels": ROLE_LABELS,
    "status_labels": STATUS_LABELS,
}
