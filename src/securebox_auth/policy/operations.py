"""The decisions on operations: step-up per sensitive operation, and its completion.

* :func:`decide_operation` applies the step-up rule of each sensitive operation: the proofs
  must be fresh enough, or for "this operation only" operations a step-up grant must exist for
  this operation, this principal and (when linked) exactly this amount and payee or batch; the
  grant is consumed.
* :func:`complete_step_up` turns a verified step-up into proofs and, where needed, a grant.

Pure, like :mod:`securebox_auth.policy.engine`, which re-exports both: ``now`` and every state
come in, and each function returns the decision with the new state.

Deciding is in :mod:`.operation_rules`, completing a step-up in :mod:`.step_up`; this
module re-exports both.
"""

from __future__ import annotations

from securebox_auth.policy.operation_rules import OperationOutcome, decide_operation
from securebox_auth.policy.step_up import complete_step_up

__all__ = ["OperationOutcome", "complete_step_up", "decide_operation"]
