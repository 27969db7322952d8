"""Connect software cards to ``pcscd`` through the ``vpcd`` driver (vsmartcard), in
reversed mode, on the loopback interface only.

In reversed mode ``vpcd`` (inside ``pcscd``) connects *out* to the card, one TCP connection
per slot: slot ``i`` of channel ``0x8C7B`` goes to ``127.0.0.1:35963 + i``, so this server
listens and ``pcscd`` opens no TCP listener. The ``pcscd`` configuration for it (in a
directory of its own, passed as ``pcscd --config DIR``; never Debian's
``/etc/reader.conf.d/vpcd``, which listens on every interface)::

    FRIENDLYNAME "Virtual PCD"
    DEVICENAME   127.0.0.1:0x8C7B
    LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so
    CHANNELID    0x8C7B

Readers then appear as ``Virtual PCD 00 00`` and ``Virtual PCD 00 01``. Debian's vpcd 3.3
needs both slots to answer, and aborts ``pcscd`` when a slot's connection closes: start this
server (:meth:`VpcdServer.start` returns once both ports listen) **before** ``pcscd``, and
stop ``pcscd`` **before** this server.

Protocol: every message, both ways, is a 2-byte big-endian length and a payload. From vpcd,
a 1-byte payload is a control byte (``00`` power off, ``01`` power on, ``02`` reset, ``04``
get the ATR, answered with the ATR); anything longer is a C-APDU, answered with the R-APDU.
``TCP_QUICKACK`` is set before every receive (without it each APDU waits ~40 ms for a
delayed ACK).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import threading
from collections.abc import Sequence
from typing import Final, Protocol

from securebox_auth.errors import ConfigurationError

__all__ = ["VPCD_PORT", "VirtualCard", "VpcdServer", "pcscd_config"]

#: The first slot's port (channel 0x8C7B); slot ``i`` uses ``VPCD_PORT + i``.
VPCD_PORT: Final = 0x8C7B
_POWER_OFF, _POWER_ON, _RESET, _GET_ATR = 0, 1, 2, 4
_DRIVER: Final = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"


class VirtualCard(Protocol):
    """What a slot needs from a card."""

    @property
    def atr(self) -> bytes: ...

    def power_on(self) -> None: ...

    def power_off(self) -> None: ...

    def reset(self) -> None: ...

    def process(self, apdu: bytes) -> bytes: ...


def pcscd_config(host: str = "127.0.0.1", port: int = VPCD_PORT) -> str:
    """The reader configuration for ``pcscd --config DIR`` (reversed mode, loopback)."""
    return (
        'FRIENDLYNAME "Virtual PCD"\n'
        f"DEVICENAME   {host}:0x{port:04X}\n"
        f"LIBPATH      {_DRIVER}\n"
        f"CHANNELID    0x{port:04X}\n"
    )


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class VpcdServer:
    """Serves ``cards[i]`` on ``host:port + i`` until stopped. Threads, no asyncio."""

    def __init__(
        self, cards: Sequence[VirtualCard], *, host: str = "127.0.0.1", port: int = VPCD_PORT
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ConfigurationError("the vpcd server only listens on a loopback address")
        if not cards:
            raise ConfigurationError("a vpcd server serves at least one slot")
        self.host, self.port = host, port
        self._cards = list(cards)
        self._listeners: list[socket.socket] = []
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self) -> None:
        """Listen on every slot's port, then serve in background threads."""
        try:
            for slot in range(len(self._cards)):
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._listeners.append(listener)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((self.host, self.port + slot))
                listener.listen(1)
        except OSError as exc:
            self.stop()
            raise ConfigurationError(f"cannot listen for vpcd: {exc.strerror}") from None
        for slot, listener in enumerate(self._listeners):
            thread = threading.Thread(
                target=self._accept, args=(slot, listener), name=f"vpcd-slot-{slot}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _accept(self, slot: int, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.add(conn)
            try:
                self._serve(self._cards[slot], conn)
            except OSError:
                pass
            finally:
                with self._lock:
                    self._connections.discard(conn)
                conn.close()

    @staticmethod
    def _serve(card: VirtualCard, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            header = _recv_exact(conn, 2)
            if header is None:
                return
            (size,) = struct.unpack(">H", header)
            payload = _recv_exact(conn, size) if size else b""
            if payload is None:
                return
            if len(payload) == 1:
                control = payload[0]
                if control == _GET_ATR:
                    reply = card.atr
                elif control in (_POWER_OFF, _POWER_ON, _RESET):
                    {_POWER_OFF: card.power_off, _POWER_ON: card.power_on, _RESET: card.reset}[
                        control
                    ]()
                    continue
                else:
                    continue
            else:
                reply = card.process(payload)
            conn.sendall(struct.pack(">H", len(reply)) + reply)

    def stop(self) -> None:
        """Close every socket and wait for the threads (stop ``pcscd`` first)."""
        self._stopping.set()
        for listener in self._listeners:
            with contextlib.suppress(OSError):  # already closed by the peer
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listeners.clear()
        self._threads.clear()

    def serve_forever(self) -> None:
        """Serve (starting if not started yet) until interrupted (Ctrl-C), then stop."""
        if not self._listeners:
            self.start()
        try:
            self._stopping.wait()
        finally:
            self.stop()

    def __enter__(self) -> VpcdServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
