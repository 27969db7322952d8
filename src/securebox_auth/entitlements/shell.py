"""The old import path of the entitlement commit loop (a thin re-export, kept so that
callers keep working): it lives in :mod:`securebox_auth.shell.entitlement_loop` (ADR 0019).
"""

from __future__ import annotations

from securebox_auth.shell.entitlement_loop import OPERATION, EntitlementShell, SecretGate

__all__ = ["OPERATION", "EntitlementShell", "SecretGate"]
