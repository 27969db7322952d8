"""The verification parameters of CAP codes (:class:`CapRules`), apart from the verifier so
that the policy model names them without loading EMV and the card records (re-exported by
:mod:`securebox_auth.factors.cap`)."""

from __future__ import annotations

from dataclasses import dataclass

from securebox_auth.errors import ConfigurationError

__all__ = ["CapRules"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CapRules:
    """Verification parameters, validated once (``[cap]`` of a policy)."""

    #: How many ATC values after ``last_atc`` are searched (aborted reader runs leave gaps).
    #: Forgery odds per guess grow with the candidates the revealed ATC bits admit.
    window: int = 20

    def __post_init__(self) -> None:
        if not 1 <= self.window <= 256:
            raise ConfigurationError("cap.window must be between 1 and 256")
