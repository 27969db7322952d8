"""securebox's store contract (``securebox_auth.testing.store_contract``), the suite the
library's own stores pass, run against ``PortalStore`` on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from securebox_auth.testing.store_contract import CONTRACT_AUDIT_KEY, StoreContract
from sqlalchemy import Engine

from portal_store import PortalStore


class TestPortalStore(StoreContract):
    @pytest.fixture
    def contract_store(self, engine: Engine) -> PortalStore:
        return PortalStore(engine, audit_key=CONTRACT_AUDIT_KEY)
