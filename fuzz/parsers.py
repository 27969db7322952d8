"""Coverage-guided fuzzing of securebox's parsers with atheris (libFuzzer).

    python3 fuzz/parsers.py TARGET [libFuzzer options, e.g. -max_total_time=60 -runs=100000]

TARGET is one of ``certificate``, ``crl``, ``policy``, ``scenario``, ``assertion``,
``assertion-fido2``, ``registration``, ``token``, ``upload``. Each target feeds the fuzzer's
bytes to one public entry point (``upload`` splices them into a real sample PDF, so that they
reach the parser past the header; see :func:`_splice`); a
:class:`~securebox_auth.errors.SecureboxError` is an expected answer, any other exception is a
crash that libFuzzer reports with the input that caused it.
``nox -s atheris`` runs every target for a minute. The hypothesis tests of ``-m fuzz`` are
the regression suite; this harness explores further.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import atheris

with atheris.instrument_imports():
    from securebox_auth.errors import SecureboxError
    from securebox_auth.factors.certificate import Revocation, enrol_certificate
    from securebox_auth.factors.webauthn import (
        RelyingParty,
        begin_authentication,
        begin_registration,
        finish_authentication,
        finish_registration,
    )
    from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
    from securebox_auth.identity import Principal
    from securebox_auth.lockout.rules import LockoutRules, LockoutState
    from securebox_auth.policy import from_toml, parse_scenario
    from securebox_auth.testing.authenticator import SoftAuthenticator
    from securebox_auth.testing.pki import TestPki
    from securebox_auth.tokens.assertions import TokenKeys, verify_assertion
    from securebox_server.box.samples import sample_pdf
    from securebox_server.box.upload import check_upload

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SAMPLE = sample_pdf(title="Relevé de compte", lines=["Madame, Monsieur,"], pages=2)
P = Principal.parse("123456789", "01")


def _certificates() -> dict[str, Callable[[bytes], object]]:
    pki = TestPki(NOW)
    trust = TrustSettings(anchors=(pki.root.cert,))
    revocation = Revocation(crls=add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=NOW))
    chain = [pki.intermediate.pem]
    return {
        "certificate": lambda data: enrol_certificate(
            P, data, intermediates=chain, trust=trust, revocation=revocation, now=NOW
        ),
        "crl": lambda data: add_crl(CrlCache(), data, pki.intermediate.cert, now=NOW),
    }


def _webauthn() -> dict[str, Callable[[bytes], object]]:
    rp = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
    auth = SoftAuthenticator()
    options, reg, owned = begin_registration(rp, P, None, now=NOW, user_name="u", display_name="d")
    registered = finish_registration(rp, reg, owned, P, auth.create(options), now=NOW)
    passkeys = registered.passkeys
    _, ceremony = begin_authentication(rp, P, passkeys, now=NOW)

    def assertion(engine: str) -> Callable[[bytes], object]:
        return lambda data: finish_authentication(
            rp,
            ceremony,
            passkeys,
            LockoutState(),
            P,
            data,
            now=NOW,
            lockout_rules=LockoutRules(),
            engine="fido2" if engine == "fido2" else "fast",
        )

    return {
        "assertion": assertion("fast"),
        "assertion-fido2": assertion("fido2"),
        "registration": lambda data: finish_registration(rp, reg, owned, P, data, now=NOW),
    }


def _splice(seed: bytes, data: bytes) -> bytes:
    """``data`` itself when its first byte is odd; else ``seed`` with ``data[3:]`` written over
    it at the offset that ``data[1:3]`` gives (the header and the trailer mostly stay)."""
    if len(data) < 3 or data[0] & 1:
        return data
    at = int.from_bytes(data[1:3], "big") % len(seed)
    patch = data[3:]
    return seed[:at] + patch + seed[at + len(patch) :]


def _others() -> dict[str, Callable[[bytes], object]]:
    keys = TokenKeys.generate("t1")
    return {
        "policy": from_toml,
        "scenario": parse_scenario,
        "token": lambda data: verify_assertion(
            data.decode("latin-1"), keys=keys, audience="api", issuer="https://iss", now=NOW
        ),
        "upload": lambda data: check_upload(_splice(SAMPLE, data), "document.pdf"),
    }


def main() -> None:
    targets = {**_certificates(), **_webauthn(), **_others()}
    if len(sys.argv) < 2 or sys.argv[1] not in targets:
        sys.exit(f"usage: parsers.py {{{','.join(sorted(targets))}}} [libFuzzer options]")
    target = targets[sys.argv[1]]

    def one(data: bytes) -> None:
        with contextlib.suppress(SecureboxError):
            target(data)

    atheris.Setup([sys.argv[0], *sys.argv[2:]], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
