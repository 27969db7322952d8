"""``securebox card piv serve``: the software PIV card in a PC/SC reader, for demos and tests.

The card (:class:`~securebox_auth.cards.piv.PivCard`) holds an EC P-256 key and its
certificate, given as PEM files (``--key``, ``--cert``) or made up for the run (``--demo``,
which writes the certificate to ``--cert-out`` so that a test server can trust it). It is
served on slot 0 of ``vpcd`` (reversed mode, loopback only), a blank card on slot 1, and by
default the command also runs ``pcscd`` with a configuration of its own, in the order
Debian's vpcd 3.3 needs (card listening first; at the end pcscd stopped first, by its
process id). ``--no-pcscd`` only serves the card and prints the ``pcscd`` configuration.

Missing pieces are typed errors (:class:`PcscUnavailable`, exit code 2), never tracebacks:
``pcscd`` not installed, the vpcd driver not installed, another ``pcscd`` already running,
the ports taken. The PIN try counter lives in memory: restarting the command resets it.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from securebox_auth.cards.piv import PivCard
from securebox_auth.cards.prompt import ask_secret
from securebox_auth.cards.softcard import BlankCard
from securebox_auth.cards.vpcd import VPCD_PORT, VpcdServer, pcscd_config
from securebox_auth.errors import ConfigurationError

__all__ = ["PcscUnavailable", "check_pcsc_stack", "register_piv", "serve_piv"]

PCSCD_SOCKET: Final = Path("/run/pcscd/pcscd.comm")
VPCD_DRIVER: Final = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
_START_WAIT_S: Final = 10.0
_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


class PcscUnavailable(ConfigurationError):
    """pcscd or the vpcd driver is missing, or another pcscd already runs."""

    code: ClassVar[str] = "pcsc_unavailable"


def _pcscd_running(path: Path = PCSCD_SOCKET) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def check_pcsc_stack(*, start_pcscd: bool) -> str | None:
    """The ``pcscd`` executable to start (``None`` when not starting one), or
    :class:`PcscUnavailable` saying what is missing and how to install it."""
    if not VPCD_DRIVER.exists():
        raise PcscUnavailable(
            f"the vpcd driver ({VPCD_DRIVER}) is not installed: apt-get install vsmartcard-vpcd"
        )
    if not start_pcscd:
        return None
    pcscd = shutil.which("pcscd")
    if pcscd is None:
        raise PcscUnavailable("pcscd is not installed: apt-get install pcscd")
    if _pcscd_running():
        raise PcscUnavailable(
            f"a pcscd already serves {PCSCD_SOCKET}: stop it, or use --no-pcscd and start "
            "pcscd yourself with the configuration this command prints"
        )
    return pcscd


def _demo_credentials(cert_out: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securebox demo PIV card")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_out.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _load_credentials(
    key_file: Path, cert_file: Path
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except OSError as exc:
        raise ConfigurationError(f"cannot read the key or certificate: {exc.strerror}") from None
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigurationError(
            "the key is an unencrypted PEM private key and the certificate a PEM certificate"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError("the software PIV card holds an EC P-256 key")
    if cert.public_key() != key.public_key():
        raise ConfigurationError("the certificate is not the key's")
    return key, cert


@contextlib.contextmanager
def _pcscd(executable: str, host: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``pcscd --foreground`` with a configuration directory of its own (never
    ``--apdu``: it would log PINs); stopped by its process id on exit."""
    with tempfile.TemporaryDirectory(prefix="securebox-pcscd-") as home:
        config = Path(home) / "reader.conf.d"
        config.mkdir()
        (config / "vpcd").write_text(pcscd_config(host, port), encoding="utf-8")
        log = Path(home) / "pcscd.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 - a fixed command line
                [executable, "--foreground", "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + _START_WAIT_S
                while not _pcscd_running():
                    if process.poll() is not None:
                        tail = log.read_text(errors="replace")[-500:]
                        raise PcscUnavailable(f"pcscd exited ({process.returncode}): {tail}")
                    if time.monotonic() > deadline:
                        raise PcscUnavailable(f"pcscd did not start in {_START_WAIT_S:.0f} s")
                    time.sleep(0.05)
                yield process
            finally:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


def serve_piv(card: PivCard, *, host: str, port: int, start_pcscd: bool) -> None:
    """Serve ``card`` (slot 0, a blank card in slot 1) until Ctrl-C or SIGTERM."""
    executable = check_pcsc_stack(start_pcscd=start_pcscd)
    stop = threading.Event()
    handlers = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _SIGNALS}
    server = VpcdServer([card, BlankCard()], host=host, port=port)
    try:
        server.start()  # both slots listen before pcscd starts ...
        with contextlib.ExitStack() as running:
            if executable is None:
                print("Serving the PIV card on slot 0 and a blank card on slot 1. Start pcscd")
                print("with a configuration directory holding one file with these lines:")
                print(pcscd_config(host, port))
            else:
                running.enter_context(_pcscd(executable, host, port))  # ... stopped first
                print("The PIV card is in the PC/SC reader 'Virtual PCD 00 00'", end="")
                print(f" (pcscd {PCSCD_SOCKET}). Try: pkcs11-tool --list-slots")
            print("Stop with Ctrl-C.", flush=True)
            stop.wait()
    finally:
        server.stop()
        for sig, previous in handlers.items():
            signal.signal(sig, previous)


def _serve(args: argparse.Namespace) -> int:
    # The arguments and the key first: a mistake is reported before the PIN is asked.
    if args.demo and (args.key or args.cert):
        raise ConfigurationError("--demo makes its own key: leave out --key and --cert")
    if not args.demo and not (args.key and args.cert):
        raise ConfigurationError("give --key and --cert (PEM files), or --demo")
    loaded = None if args.demo else _load_credentials(Path(args.key), Path(args.cert))
    later = "pass --pin and --puk (testing only)"
    pin = args.pin or ask_secret("PIN for the card (6-8 characters): ", instead=later)
    puk = args.puk or ask_secret("PUK for the card (6-8 characters): ", instead=later)
    if loaded is None:
        key, cert = _demo_credentials(Path(args.cert_out))
        print(f"demo key made for this run; its certificate is in {args.cert_out}")
    else:
        key, cert = loaded
    card = PivCard(key, cert, pin=pin, puk=puk, tries=args.tries)
    serve_piv(card, host=args.host, port=args.port, start_pcscd=args.pcscd)
    return 0


def register_piv(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``piv serve`` to the ``card`` command group."""
    piv = sub.add_parser("piv", help="a software PIV card (NIST SP 800-73-4) in a PC/SC reader")
    commands = piv.add_subparsers(title="piv commands", metavar="COMMAND", required=True)
    serve = commands.add_parser("serve", help="serve the PIV card through vpcd (and pcscd)")
    serve.add_argument("--key", help="the card's EC P-256 private key (unencrypted PEM)")
    serve.add_argument("--cert", help="its certificate (PEM)")
    serve.add_argument("--demo", action="store_true", help="make a throw-away key and cert")
    serve.add_argument("--cert-out", default="piv-demo-cert.pem", help="--demo: cert file")
    serve.add_argument("--pin", help="the PIN (testing only; otherwise asked without echo)")
    serve.add_argument("--puk", help="the PUK (testing only; otherwise asked without echo)")
    serve.add_argument("--tries", type=int, default=3, help="PIN and PUK tries (default 3)")
    serve.add_argument("--host", default="127.0.0.1", help="a loopback address")
    serve.add_argument("--port", type=int, default=VPCD_PORT, help="slot 0 port (35963)")
    serve.add_argument(
        "--no-pcscd",
        dest="pcscd",
        action="store_false",
        help="do not start pcscd; print its configuration instead",
    )
    serve.set_defaults(handler=_serve)
