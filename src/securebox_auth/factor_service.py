"""The second factors on a store, through one object: :class:`FactorService`.

Moved to :mod:`securebox_auth.shell` (one service per factor, ADR 0017); this module keeps
the old import path working.
"""

from securebox_auth.shell.base import DEFAULT_ITEM, USER_SENDS, FactorResult
from securebox_auth.shell.factors import FactorService

__all__ = ["DEFAULT_ITEM", "USER_SENDS", "FactorResult", "FactorService"]
