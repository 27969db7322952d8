"""cards/vpcd.py: the vpcd protocol over a real loopback socket, without pcscd.

The server listens on free ports here (not 35963/35964), so these tests never disturb a
``pcscd`` that the end-to-end tests may have started.
"""

from __future__ import annotations

import socket
import struct
import time

import pytest

from securebox_auth.cards.softcard import ATR, BlankCard
from securebox_auth.cards.vpcd import VPCD_PORT, VpcdServer, pcscd_config
from securebox_auth.emv import commands
from securebox_auth.errors import ConfigurationError
from tests.cards.capworld import make_world


def free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port < 65535:
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise AssertionError("no two free consecutive ports")


def message(conn: socket.socket, payload: bytes) -> bytes | None:
    """One vpcd message. Like vpcd, the length and the payload go in two writes: without
    TCP_QUICKACK on the card's side, the second one waits for a delayed ACK (~40 ms)."""
    conn.send(struct.pack(">H", len(payload)))
    conn.sendall(payload)
    if len(payload) == 1 and payload[0] != 4:
        return None
    header = conn.recv(2)
    (size,) = struct.unpack(">H", header)
    data = b""
    while len(data) < size:
        data += conn.recv(size - len(data))
    return data


def test_both_slots_answer_atr_and_apdus() -> None:
    world = make_world()
    port = free_port_pair()
    with VpcdServer([world.card, BlankCard()], port=port):
        with socket.create_connection(("127.0.0.1", port)) as slot0:
            assert message(slot0, b"\x01") is None  # power on: no reply
            assert message(slot0, b"\x04") == ATR
            answer = message(slot0, commands.select(bytes.fromhex("A0000000048002")).encode())
            assert answer is not None
            assert answer[-2:] == b"\x90\x00"
            timings = []
            for _ in range(11):
                started = time.perf_counter()
                message(slot0, commands.get_data(0x9F17).encode())
                timings.append(time.perf_counter() - started)
            # TCP_QUICKACK: no ~40 ms delayed-ACK stall per APDU
            assert sorted(timings)[5] < 0.02
            assert message(slot0, b"\x02") is None  # reset
            assert message(slot0, b"\x00") is None  # power off
        with socket.create_connection(("127.0.0.1", port + 1)) as slot1:
            assert message(slot1, b"\x04") == ATR
            answer = message(slot1, commands.select(bytes.fromhex("A0000000048002")).encode())
            assert answer == bytes.fromhex("6A82")


def test_a_slot_accepts_a_new_connection_after_one_closes() -> None:
    port = free_port_pair()
    with VpcdServer([BlankCard(), BlankCard()], port=port):
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", port)) as slot0:
                assert message(slot0, b"\x04") == ATR


def test_loopback_only_and_busy_ports() -> None:
    with pytest.raises(ConfigurationError):
        VpcdServer([BlankCard()], host="0.0.0.0")  # noqa: S104 - the refusal is the point
    with pytest.raises(ConfigurationError):
        VpcdServer([])
    port = free_port_pair()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port + 1))
        squatter.listen(1)
        with pytest.raises(ConfigurationError, match="cannot listen"):
            VpcdServer([BlankCard(), BlankCard()], port=port).start()


def test_pcscd_configuration_is_reversed_mode_on_loopback() -> None:
    config = pcscd_config()
    assert "DEVICENAME   127.0.0.1:0x8C7B" in config
    assert "CHANNELID    0x8C7B" in config
    assert "/dev/null" not in config
    assert VPCD_PORT == 35963
