"""Company proofs: the company-specific secret that must be given to add a company.

The source documents' portals ask, before adding a company to a portfolio, for a secret
found on the company's mail (an enterprise number printed on a letter). A
:class:`CompanyProofVerifier` checks it. :class:`KeyedCompanyProofs` derives the secret from
the SIREN with a key from a :class:`~securebox_auth.crypto.keys.KeyProvider`, so the bank can print
it without storing it, and compares in constant time.
"""

from __future__ import annotations

import base64
import hmac
from typing import Protocol

from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.identity import Siren

__all__ = ["CompanyProofVerifier", "KeyedCompanyProofs"]

_CONTEXT = b"securebox/company-proof/v1\x00"


class CompanyProofVerifier(Protocol):
    def verify(self, siren: Siren, proof: str) -> bool: ...


class KeyedCompanyProofs:
    """Proofs of 16 base32 characters (80 bits), grouped by 4 for printing."""

    def __init__(self, keys: KeyProvider) -> None:
        self._keys = keys

    @property
    def keys(self) -> KeyProvider:
        """The proof key's provider (for
        :func:`securebox_auth.crypto.keys.ensure_distinct_keys`)."""
        return self._keys

    def issue(self, siren: Siren) -> str:
        mac = self._keys.mac(self._keys.current_key_id, _CONTEXT + siren.value.encode())
        text = base64.b32encode(mac[:10]).decode()
        return "-".join(text[i : i + 4] for i in range(0, 16, 4))

    def verify(self, siren: Siren, proof: str) -> bool:
        typed = proof.replace("-", "").replace(" ", "").upper()[:64]
        expected = self.issue(siren).replace("-", "")
        return hmac.compare_digest(typed.encode(), expected.encode())
