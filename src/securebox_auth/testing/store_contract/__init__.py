"""The store contract: the tests every :class:`~securebox_auth.stores.protocols.AuthStore`
must pass, for the library's own stores (memory, SQLite, PostgreSQL) and for a portal's own
implementation (for example over its existing user and credential tables).

Use it with pytest (a test dependency, not a runtime one): subclass :class:`StoreContract` in
a test module and give it a ``contract_store`` fixture that yields an **empty** store sealing
its audit chain with :data:`CONTRACT_AUDIT_KEY`::

    import pytest
    from securebox_auth.testing.store_contract import CONTRACT_AUDIT_KEY, StoreContract

    class TestPortalStore(StoreContract):
        @pytest.fixture
        def contract_store(self) -> Iterator[AuthStore]:
            yield PortalStore(fresh_engine(), audit_key=CONTRACT_AUDIT_KEY)

pytest collects the inherited ``test_*`` methods for the subclass. The key is fixed so that
the audit MACs of every store can be compared with those :func:`~securebox_auth.audit.seal`
computes. Nothing here runs at import time beyond definitions; never import it in
production code.
"""

from securebox_auth.testing.store_contract.audit import AuditContract
from securebox_auth.testing.store_contract.records import RecordsContract
from securebox_auth.testing.store_contract.sessions_factors import SessionsFactorsContract
from securebox_auth.testing.store_contract.world import CONTRACT_AUDIT_KEY, NOW

__all__ = ["CONTRACT_AUDIT_KEY", "NOW", "StoreContract"]


class StoreContract(RecordsContract, SessionsFactorsContract, AuditContract):
    """The contract's tests, as methods: subclass it and provide ``contract_store``."""
