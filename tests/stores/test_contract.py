"""The store contract (:mod:`securebox_auth.testing.store_contract`), run against the
in-memory store, SQLite and PostgreSQL.

Every test receives ``contract_store`` (see ``conftest.py``): an empty store of each kind,
sealing with the contract's audit key, so that even the MACs of the audit chain must agree.
The same suite is what a portal's own store runs (``examples/store-adapter``).
"""

from __future__ import annotations

from securebox_auth.testing.store_contract import StoreContract


class TestStoreContract(StoreContract):
    """Every contract test, on each store of ``contract_store``'s parameters."""
