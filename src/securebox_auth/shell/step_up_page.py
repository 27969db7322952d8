"""What a step-up shows next (:class:`StepUpPage`), the answer of every step of
:class:`~securebox_auth.shell.step_up.StepUpShell`."""

from __future__ import annotations

from dataclasses import dataclass, field

from securebox_auth.flows.step_up import AskFactor, StepUpAction, StepUpFlow, StepUpState
from securebox_auth.policy.decision import Decision

__all__ = ["StepUpPage"]


@dataclass(frozen=True, slots=True)
class StepUpPage:
    """What the portal shows next. ``session_id`` is the identifier to use from now on (a
    new one once the step-up was recorded)."""

    handle: str = field(repr=False)
    flow: StepUpFlow
    action: StepUpAction
    session_id: str = field(repr=False)
    rejected: bool = False
    decision: Decision | None = None

    @property
    def state(self) -> StepUpState:
        return self.flow.state

    @property
    def methods(self) -> tuple[str, ...]:
        return self.action.methods if isinstance(self.action, AskFactor) else ()

    @property
    def display(self) -> tuple[tuple[str, str], ...]:
        """What the user must see before proving (amount and payee, batch total...)."""
        return () if self.flow.challenge is None else self.flow.challenge.display

    @property
    def digest(self) -> str | None:
        return self.flow.digest

    @property
    def ready(self) -> bool:
        """The operation may be executed (:meth:`StepUpShell.execute`)."""
        return self.flow.state is StepUpState.READY

    @property
    def executed(self) -> bool:
        return self.flow.state is StepUpState.CONSUMED

    def explain(self) -> str:
        return self.flow.explain()
