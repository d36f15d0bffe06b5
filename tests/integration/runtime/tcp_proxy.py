"""A loopback TCP proxy that can stop forwarding without closing anything: a dead load balancer in a box.

`stall()` freezes every open connection (bytes are read but never passed on, no FIN, no RST), which is what a
watch behind a half-dead load balancer sees; `refuse(True)` also closes new connections at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import yaml
from anyio.abc import SocketStream, TaskStatus


class _Gate:
    def __init__(self) -> None:
        self.open = anyio.Event()
        self.open.set()


class StallingProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._gates: list[_Gate] = []
        self._refusing = False
        self.port = 0
        self.connections = 0

    @classmethod
    def for_kubeconfig(cls, kubeconfig: Path) -> StallingProxy:
        server = _server_of(kubeconfig)
        parts = urlsplit(server)
        return cls(parts.hostname or "127.0.0.1", parts.port or 443)

    def stall(self) -> None:
        for gate in self._gates:
            gate.open = anyio.Event()  # never set: the connection stays open and silent

    def refuse(self, refusing: bool) -> None:
        self._refusing = refusing

    def kubeconfig_through(self, kubeconfig: Path, out: Path) -> Path:
        """A copy of `kubeconfig` whose server is this proxy, keeping TLS name checks against the real host."""
        config = yaml.safe_load(kubeconfig.read_text())
        for cluster in config["clusters"]:
            original = urlsplit(cluster["cluster"]["server"])
            cluster["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
            if original.hostname not in ("127.0.0.1", None):
                cluster["cluster"]["tls-server-name"] = original.hostname
        out.write_text(yaml.safe_dump(config))
        return out

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with listener:
            task_status.started()
            await listener.serve(self._handle)

    async def _handle(self, client: SocketStream) -> None:
        if self._refusing:
            await client.aclose()
            return
        self.connections += 1
        gate = _Gate()
        self._gates.append(gate)
        try:
            async with (
                client,
                await anyio.connect_tcp(*self._upstream) as upstream,
                anyio.create_task_group() as tg,
            ):
                tg.start_soon(_pump, client, upstream, gate, tg.cancel_scope)
                tg.start_soon(_pump, upstream, client, gate, tg.cancel_scope)
        except OSError:
            pass
        finally:
            self._gates.remove(gate)


async def _pump(source: SocketStream, sink: SocketStream, gate: _Gate, scope: anyio.CancelScope) -> None:
    try:
        async for data in source:
            await gate.open.wait()
            await sink.send(data)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass
    scope.cancel()


def _server_of(kubeconfig: Path) -> str:
    config: dict[str, Any] = yaml.safe_load(kubeconfig.read_text())
    current = config.get("current-context")
    context = next(
        (c["context"] for c in config["contexts"] if c["name"] == current), config["contexts"][0]["context"]
    )
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    return str(cluster["server"])
