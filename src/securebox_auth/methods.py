"""Authentication methods and the factor categories they prove.

PSD2 strong customer authentication needs two *independent* categories among knowledge,
possession and inherence. Each method declares what it proves and its RFC 8176 ``amr``
values; the policy engine classifies sessions from these declarations.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["CONFIDENTIAL_CODE", "AuthMethod", "FactorCategory"]


class FactorCategory(enum.Enum):
    KNOWLEDGE = "knowledge"
    POSSESSION = "possession"
    INHERENCE = "inherence"


@dataclass(frozen=True, slots=True)
class AuthMethod:
    name: str
    categories: frozenset[FactorCategory]
    amr: tuple[str, ...]


#: The numeric confidential code: one knowledge factor ("simple" authentication).
CONFIDENTIAL_CODE = AuthMethod(
    name="confidential_code",
    categories=frozenset({FactorCategory.KNOWLEDGE}),
    amr=("pwd",),
)
