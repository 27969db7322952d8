"""The old import path of :class:`EntitlementService` (a thin re-export, kept so that
callers keep working).

The service is imperative shell code (it reads a store and commits with compare-and-swap),
so it lives in :mod:`securebox_auth.shell.entitlements` (its commit loop in
:mod:`securebox_auth.shell.entitlement_loop`); the pure entitlement rules stay in this
folder (ADR 0019). Portals import ``EntitlementService`` from ``securebox_auth``.
"""

from __future__ import annotations

from securebox_auth.shell.entitlements import (
    CREDENTIAL_KINDS,
    OPERATION,
    EntitlementService,
    Target,
)

__all__ = ["CREDENTIAL_KINDS", "OPERATION", "EntitlementService", "Target"]
