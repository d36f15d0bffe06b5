from __future__ import annotations

import socket

import pytest

from llmkube.agent.options import PortRange
from llmkube.agent.ports import NoFreePort, PortAllocator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_reserved_port_is_not_handed_out_twice() -> None:
    port = free_port()
    allocator = PortAllocator(PortRange(first=port, last=port), address="127.0.0.1")
    allocator.acquire()
    with pytest.raises(NoFreePort):
        allocator.acquire()


def test_a_restarting_server_keeps_its_port() -> None:
    port = free_port()
    allocator = PortAllocator(PortRange(first=port, last=port), address="127.0.0.1")
    first = allocator.acquire()
    assert allocator.acquire(keep=first) == first


def test_a_port_taken_by_another_program_is_skipped() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        taken = busy.getsockname()[1]
        allocator = PortAllocator(PortRange(first=taken, last=taken), address="127.0.0.1")
        with pytest.raises(NoFreePort):
            allocator.acquire()
