"""PC/SC readers through pyscard (the ``card`` extra): the transport to real readers.

Only this module imports pyscard, and only when a function of it runs, so that the rest of
securebox works without the extra. :func:`open_cap_reader` picks the reader: the one named,
or else the first reader whose card answers SELECT of a CAP application (a reader with no
card, or with a card without CAP, such as the blank card in the second ``vpcd`` slot, is
skipped).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

from securebox_auth.cards.reader import KNOWN_CAP_AIDS, CardError, exchange
from securebox_auth.emv import commands
from securebox_auth.errors import ConfigurationError, EnvironmentUnavailable

__all__ = ["PcscTransport", "list_readers", "open_cap_reader"]


def _pyscard() -> Any:
    try:
        import smartcard.Exceptions  # noqa: PLC0415 - optional dependency, loaded on use
        import smartcard.System  # noqa: PLC0415
    except ImportError:
        raise ConfigurationError(
            "PC/SC support needs pyscard: pip install 'securebox[card]'"
        ) from None
    return smartcard


_NO_SERVICE: Final = (
    "the PC/SC service is not running: start pcscd (for instance 'sudo systemctl start "
    "pcscd.socket'), or read a software card file with --card FILE"
)


def _readers(smartcard: Any) -> list[Any]:
    """pyscard's reader objects; pyscard raises its own ``BaseSCardException`` (not a
    ``SmartcardException``) when it cannot establish a PC/SC context: pcscd is not running."""
    from smartcard.pcsc import PCSCExceptions  # noqa: PLC0415

    try:
        return list(smartcard.System.readers())
    except PCSCExceptions.EstablishContextException:
        raise EnvironmentUnavailable(_NO_SERVICE) from None
    except PCSCExceptions.BaseSCardException as exc:
        raise EnvironmentUnavailable(f"the PC/SC service failed: {exc}") from None


def list_readers() -> list[str]:
    """The names of the PC/SC readers (``[]`` when none); raises
    :class:`~securebox_auth.errors.EnvironmentUnavailable` when pcscd is not running."""
    smartcard = _pyscard()
    try:
        return [str(r) for r in _readers(smartcard)]
    except smartcard.Exceptions.SmartcardException:
        return []


class PcscTransport:
    """A connection to the card in one PC/SC reader (T=0 or T=1, as the card offers)."""

    def __init__(self, reader: str) -> None:
        smartcard = _pyscard()
        matches = [r for r in _readers(smartcard) if str(r) == reader]
        if not matches:
            raise CardError(f"no reader called {reader!r}")
        self.reader = reader
        self._connection = matches[0].createConnection()
        try:
            self._connection.connect()
        except smartcard.Exceptions.SmartcardException as exc:
            raise CardError(f"no card in {reader!r}: {exc}") from None

    @property
    def atr(self) -> bytes:
        return bytes(self._connection.getATR())

    def transmit(self, apdu: bytes) -> bytes:
        smartcard = _pyscard()
        try:
            data, sw1, sw2 = self._connection.transmit(list(apdu))
        except smartcard.Exceptions.SmartcardException as exc:
            raise CardError(f"the card did not answer: {exc}") from None
        return bytes(data) + bytes((sw1, sw2))

    def close(self) -> None:
        """Disconnect and release the PC/SC context (idempotent)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.disconnect()
            finally:
                connection.release()

    def __enter__(self) -> PcscTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _has_cap(transport: PcscTransport, aids: Sequence[bytes]) -> bool:
    return any(exchange(transport, commands.select(aid)).ok for aid in aids)


@contextmanager
def open_cap_reader(
    name: str | None = None, *, aids: Sequence[bytes] = KNOWN_CAP_AIDS
) -> Iterator[PcscTransport]:
    """A transport to the reader ``name``, or to the first reader holding a CAP card."""
    names = list_readers()
    if not names:
        raise EnvironmentUnavailable(
            "no PC/SC reader: connect a reader (or start a software one: 'securebox card "
            "serve'), or read a software card file with --card FILE"
        )
    if name is not None:
        chosen = [n for n in names if n == name] or [n for n in names if name in n]
        if not chosen:
            raise CardError(f"no reader matches {name!r} (readers: {', '.join(names)})")
        with PcscTransport(chosen[0]) as transport:
            yield transport
        return
    for candidate in names:
        try:
            transport = PcscTransport(candidate)
        except CardError:
            continue
        try:
            if not _has_cap(transport, aids):
                transport.close()
                continue
        except CardError:
            transport.close()
            continue
        with transport:
            yield transport
        return
    raise CardError(f"no card with a CAP application in {', '.join(names)}")
