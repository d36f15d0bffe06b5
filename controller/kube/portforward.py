"""Port-forwarding to a pod over the apiserver's websocket, served on a local loopback port.

The protocol is the kubelet's websocket port-forward (`v4.channel.k8s.io`, binary): every websocket message
starts with one byte naming its channel. A request for one port opens channel 0 for data and channel 1 for
errors, and the server's first message on each channel carries the port number (2 bytes, little-endian) before
anything else. Bytes we send on channel 0 reach the pod's port; text arriving on channel 1 is the kubelet's
reason for failing (no such port, connection refused), after which the server closes the socket.

One websocket carries exactly one TCP connection, so the local listener opens a websocket per accepted
connection. That keeps the bookkeeping trivial (the stream ends when either side ends) and mirrors how the
kubelet maps streams to connections anyway. Nothing here spawns kubectl: credentials and TLS come from the
process's `KubeClient`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp
import anyio
import attrs
from anyio.abc import SocketAttribute, SocketStream

from controller.kube.client import KubeClient
from controller.kube.errors import KubeError
from controller.kube.resources import PODS

PROTOCOL = "v4.channel.k8s.io"
DATA_CHANNEL = 0
ERROR_CHANNEL = 1
_PORT_PREFIX = 2
_CHUNK = 64 * 1024
LOOPBACK = "127.0.0.1"


@attrs.define(kw_only=True)
class ForwardedPort:
    """A local address that reaches `pod:port`; `errors` collects what the kubelet reported per connection."""

    host: str
    port: int
    pod: str
    namespace: str
    remote_port: int
    errors: list[str] = attrs.field(factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@attrs.define
class _ChannelReader:
    """Strips the port prefix the server sends first on every channel; the prefix may arrive split."""

    prefix_left: dict[int, int] = attrs.field(
        factory=lambda: {DATA_CHANNEL: _PORT_PREFIX, ERROR_CHANNEL: _PORT_PREFIX}
    )

    def payload(self, message: bytes) -> tuple[int, bytes]:
        if not message:
            return DATA_CHANNEL, b""
        channel, body = message[0], message[1:]
        left = self.prefix_left.get(channel, 0)
        if left:
            skipped = min(left, len(body))
            self.prefix_left[channel] = left - skipped
            body = body[skipped:]
        return channel, body


async def _pump_local_to_pod(local: SocketStream, ws: aiohttp.ClientWebSocketResponse) -> None:
    with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
        while True:
            data = await local.receive(_CHUNK)
            await ws.send_bytes(bytes([DATA_CHANNEL]) + data)


async def _pump_pod_to_local(
    ws: aiohttp.ClientWebSocketResponse, local: SocketStream, forward: ForwardedPort
) -> None:
    reader = _ChannelReader()
    async for message in ws:
        if message.type is not aiohttp.WSMsgType.BINARY:
            continue
        channel, body = reader.payload(message.data)
        if not body:
            continue
        if channel == ERROR_CHANNEL:
            forward.errors.append(body.decode(errors="replace").strip())
            return
        if channel == DATA_CHANNEL:
            try:
                await local.send(body)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return


async def _serve_connection(client: KubeClient, forward: ForwardedPort, local: SocketStream) -> None:
    path = PODS.object_path(forward.pod, forward.namespace, "portforward")
    async with local:
        try:
            async with (
                client.websocket(
                    path, query=[("ports", str(forward.remote_port))], protocols=[PROTOCOL]
                ) as ws,
                anyio.create_task_group() as group,
            ):

                async def pod_side() -> None:
                    await _pump_pod_to_local(ws, local, forward)
                    group.cancel_scope.cancel()

                async def local_side() -> None:
                    await _pump_local_to_pod(local, ws)
                    group.cancel_scope.cancel()

                group.start_soon(pod_side)
                group.start_soon(local_side)
        except (KubeError, aiohttp.ClientError, OSError) as err:
            # One broken connection must not end the forward: record why, drop this client, keep serving.
            forward.errors.append(str(err))


@contextlib.asynccontextmanager
async def forward_pod_port(
    client: KubeClient, *, pod: str, namespace: str, port: int, local_host: str = LOOPBACK
) -> AsyncIterator[ForwardedPort]:
    """Serves an ephemeral port on `local_host` that reaches `pod:port` until the block exits."""
    listener = await anyio.create_tcp_listener(local_host=local_host, local_port=0)
    local_port = listener.listeners[0].extra(SocketAttribute.local_port)
    forward = ForwardedPort(host=local_host, port=local_port, pod=pod, namespace=namespace, remote_port=port)

    async def handle(local: SocketStream) -> None:
        await _serve_connection(client, forward, local)

    # The caller's exception is carried past the task group, which would otherwise wrap it in a group.
    failure: Exception | None = None
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, handle, group)
        try:
            yield forward
        except Exception as exc:
            failure = exc
        finally:
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure
