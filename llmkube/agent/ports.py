"""Ports for llama-server processes, from the agent's configured range.

A port is free when nothing of ours holds it and a test bind succeeds. Between that bind and the server's own
there is a window in which another program may take the port; the server then fails to start, the supervisor
sees it exit, and its next attempt asks for another port. So a race costs one restart, never a wrong endpoint:
the EndpointSlice is written from the port a healthy server actually answers on.
"""

from __future__ import annotations

import socket

from llmkube.agent.options import PortRange


class NoFreePort(RuntimeError):
    pass


def can_bind(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # No SO_REUSEADDR: a port in TIME_WAIT from our own stopped server is skipped rather than shared.
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


class PortAllocator:
    """Hands out ports of one range; a port stays reserved until released, across restarts of its server."""

    def __init__(self, ports: PortRange, *, address: str) -> None:
        self._range = ports
        self._address = address
        self._reserved: set[int] = set()

    def acquire(self, *, keep: int | None = None) -> int:
        """`keep` if it can still be bound (a restarting server keeps its port), else the lowest free one."""
        if keep is not None and can_bind(self._address, keep):
            self._reserved.add(keep)
            return keep
        if keep is not None:
            self._reserved.discard(keep)
        for port in self._range.ports():
            if port not in self._reserved and can_bind(self._address, port):
                self._reserved.add(port)
                return port
        raise NoFreePort(
            f"no free port in {self._range} on {self._address}: widen --port-range or stop what uses it"
        )

    def release(self, port: int) -> None:
        self._reserved.discard(port)
