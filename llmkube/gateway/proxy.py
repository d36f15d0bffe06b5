"""The OpenAI API in front of every service: route by `model`, admit, pick a replica, pass the answer through.

One request's path:

1. Parse just enough of the body to route (`model`, `stream`, the prompt prefix); the body is forwarded as the
   exact bytes received, never re-encoded.
2. Resolve `model` to a service (404 / 400 in OpenAI's shape otherwise). A service that requires an API key
   (`keys`) refuses a client without it (401) unless the gateway trusts its clients. A service at zero that opts
   into scale-to-zero is woken through its scale subresource; one at zero that does not is refused (503).
3. Admission (`admission`): a free slot at once, else a place in the bounded queue (429 when full), else 503 when
   the wait limit passes. The limit is `queue_timeout` while the service has ready replicas and `wake_timeout`
   while it has none (waking, loading).
4. Pick a ready replica (`balancer`) and forward. A replica that refuses the connection is skipped for the next
   one; once a response has started, errors reach the client as they are.
5. Pass the answer through as it arrives: every chunk the server sends is written to the client at once, so a
   stream reaches the client token by token. The server's status, content type and length go along. A stream
   goes over a connection of its own and is relayed inside the event loop's callbacks (`relay`); other
   answers use aiohttp's pooled client, since llama-server keeps their connections open.

The client's own `Authorization` never goes upstream: a keyed service gets its key from its Secret, any other
service gets none, so a key meant for one service is never shown to another.

A client that disconnects cancels its handler (the server runs with handler cancellation on), which closes the
upstream connection mid-answer; llama-server notices the closed socket and frees the slot. Requests held
through a wake carry `llmkube-wake-seconds` in their response headers.

Every answer that reaches a server says where its time went in a `Server-Timing` header (the W3C header that
browsers' developer tools and HTTP clients show): `queue` is the wait for admission, `upstream` the time from
the gateway starting its request to the server (connecting included) to the first bytes of the answer's body
reaching the gateway (mostly the server's prompt processing and its own queue). A client's time to first byte
minus those two is what the gateway, the network and the client itself took.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import anyio
import structlog
from aiohttp import web

from llmkube.gateway import errors, relay
from llmkube.gateway.admission import QueueFull, QueueTimeout, admitted
from llmkube.gateway.balancer import choose_endpoint
from llmkube.gateway.errors import GatewayError
from llmkube.gateway.keys import KeySource, accepts, bearer_token
from llmkube.gateway.metrics import GatewayMetrics
from llmkube.gateway.options import GatewayOptions
from llmkube.gateway.prompt import BadRequest, RoutedRequest, parse_request, sticky_key
from llmkube.gateway.routes import Route, Upstream, parse_time
from llmkube.gateway.table import RouteTable, ServiceState
from llmkube.gateway.timing import TIMING_HEADER, server_timing

log = structlog.get_logger(__name__)

INFERENCE_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
WAKE_HEADER = "llmkube-wake-seconds"
#: The `code` label of requests whose client disconnected before the answer ended.
CLIENT_CLOSED = "499"
#: Request headers worth passing on (what the client accepts and sends); never its Authorization.
FORWARDED_REQUEST_HEADERS = ("Accept", "Content-Type", "User-Agent")
#: Response headers passed back; bodies go through as received (never decompressed), so their encoding too.
FORWARDED_RESPONSE_HEADERS = ("Content-Type", "Content-Encoding", "Cache-Control", "X-Accel-Buffering")
#: Most replicas one request tries before giving up (each try is a refused connection).
MAX_ATTEMPTS = 3
#: How long opening a connection to a replica may take before the next replica is tried.
UPSTREAM_CONNECT_TIMEOUT = 5.0
#: Request bodies up to this size; long chat contexts run to megabytes.
MAX_BODY_BYTES = 64 * 1024 * 1024

Wake = Callable[[ServiceState], Awaitable[None]]


class Proxy:
    def __init__(
        self,
        *,
        table: RouteTable,
        wake: Wake,
        metrics: GatewayMetrics,
        options: GatewayOptions,
        session: aiohttp.ClientSession,
        synced: Callable[[], bool],
        keys: KeySource,
    ) -> None:
        self._table = table
        self._keys = keys
        self._wake = wake
        self._metrics = metrics
        self._options = options
        self._session = session
        self._synced = synced
        self._upstream_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=UPSTREAM_CONNECT_TIMEOUT, sock_read=options.upstream_idle_timeout
        )

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        for path in INFERENCE_PATHS:
            app.router.add_post(path, self.inference)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/v1/models/{model:.+}", self.model)
        app.router.add_route("*", "/{tail:.*}", self.unknown_path)
        return app

    # -- /v1/models -------------------------------------------------------------------------------------------

    async def models(self, request: web.Request) -> web.Response:
        self._require_synced()
        data = [self._model_entry(state.route) for state in self._table.entries()]
        return web.json_response({"object": "list", "data": data})

    async def model(self, request: web.Request) -> web.Response:
        self._require_synced()
        try:
            state = self._table.resolve(request.match_info["model"])
        except GatewayError as err:
            return _error_response(err)
        return web.json_response(self._model_entry(state.route))

    def _model_entry(self, route: Route) -> dict[str, Any]:
        return {
            "id": self._table.model_id(route),
            "object": "model",
            "created": _unix(route.created),
            "owned_by": route.namespace,
            # Beyond OpenAI's fields: what a client needs to know before it sends a request.
            "namespace": route.namespace,
            "phase": _phase(route),
            "replicas": route.replicas,
            "ready_replicas": len(route.ready),
            "scale_to_zero": route.idle_seconds is not None,
        }

    async def unknown_path(self, request: web.Request) -> web.Response:
        return _error_response(errors.not_found_path(request.path))

    # -- inference --------------------------------------------------------------------------------------------

    async def inference(self, request: web.Request) -> web.StreamResponse:
        labels = ("", "")
        try:
            self._require_synced()
            raw = await request.read()
            routed = self._parse(raw)
            state = self._table.resolve(routed.model)
            labels = (state.route.namespace, state.route.name)
            api_key = await self._upstream_key(request, state.route)
            response = await self._serve(request, raw=raw, routed=routed, state=state, api_key=api_key)
        except GatewayError as err:
            self._metrics.requests.labels(*labels, str(err.status)).inc()
            return _error_response(err)
        except anyio.get_cancelled_exc_class():
            # The client went away before its answer ended (nginx's "client closed request").
            self._metrics.requests.labels(*labels, CLIENT_CLOSED).inc()
            raise
        self._metrics.requests.labels(*labels, str(response.status)).inc()
        return response

    def _parse(self, raw: bytes) -> RoutedRequest:
        try:
            body = json.loads(raw)
        except ValueError:
            raise errors.bad_request("the request body is not valid JSON") from None
        try:
            # The prefix key is computed later, and only when there are replicas to choose from.
            return parse_request(body, prefix_chars=0)
        except BadRequest as exc:
            raise errors.bad_request(str(exc), param=exc.param) from None

    async def _upstream_key(self, request: web.Request, route: Route) -> str | None:
        """The key to send the service (None: it needs none), once the client showed it may use the service:
        before the request can wake the service or take a place in its queue."""
        keys = await self._keys.keys_for(route)
        if keys is None:
            return None
        if not self._options.trust_clients and not accepts(
            keys, bearer_token(request.headers.get("Authorization"))
        ):
            raise errors.invalid_api_key(route.name)
        return keys[0]

    async def _serve(
        self,
        request: web.Request,
        *,
        raw: bytes,
        routed: RoutedRequest,
        state: ServiceState,
        api_key: str | None,
    ) -> web.StreamResponse:
        route = state.route
        if state.asleep:
            if route.idle_seconds is None:
                raise errors.unavailable(
                    route.name,
                    "it is scaled to 0 replicas and does not set spec.scaleToZero; scale it up "
                    f"(kubectl scale isvc/{route.name} --replicas=1) or opt into scale-to-zero",
                )
            await self._wake(state)
        elif not route.ready and route.phase == "Failed":
            raise errors.unavailable(route.name, f"it is Failed; see `llmkube status {route.name}`")
        had_capacity = state.gate.capacity > 0
        limit = self._options.queue_timeout if had_capacity else self._options.wake_timeout
        arrived = time.monotonic()
        arrived_wall = time.time()
        try:
            async with admitted(state.gate, wait_limit=limit) as waited:
                waited_s = time.monotonic() - arrived
                self._metrics.queue_wait.labels(route.namespace, route.name).observe(waited_s)
                state.last_request = time.time()
                try:
                    woke = waited and _woke_during(state, arrived_wall)
                    response = await self._forward(
                        request,
                        raw=raw,
                        routed=routed,
                        state=state,
                        woke=woke,
                        api_key=api_key,
                        queued=waited_s,
                    )
                finally:
                    state.last_request = time.time()
        except QueueFull:
            raise errors.queue_full(
                route.name, queue_limit=state.gate.queue_limit, retry_after=self._retry_after(state)
            ) from None
        except QueueTimeout:
            if had_capacity:
                raise errors.queue_timeout(
                    route.name, waited=limit, retry_after=self._retry_after(state)
                ) from None
            raise errors.wake_timeout(route.name, waited=limit) from None
        return response

    def _retry_after(self, state: ServiceState) -> float:
        """A hint, not a promise: one second per request ahead per slot, at least one second."""
        capacity = max(1, state.gate.capacity)
        return max(1.0, (state.gate.waiting + state.gate.in_flight) / capacity)

    async def _forward(
        self,
        request: web.Request,
        *,
        raw: bytes,
        routed: RoutedRequest,
        state: ServiceState,
        woke: bool,
        api_key: str | None,
        queued: float,
    ) -> web.StreamResponse:
        route = state.route
        refused: set[str] = set()
        last_error = "no ready replica"
        for _ in range(MAX_ATTEMPTS):
            candidates = [u for u in state.route.ready if u.key not in refused]
            if not candidates:
                break
            upstream = self._choose(state, candidates, routed)
            state.outstanding[upstream.key] = state.outstanding.get(upstream.key, 0) + 1
            exchange = self._relay_stream if routed.stream else self._exchange
            try:
                return await exchange(
                    request,
                    raw=raw,
                    routed=routed,
                    upstream=upstream,
                    state=state,
                    woke=woke,
                    api_key=api_key,
                    queued=queued,
                )
            except (aiohttp.ClientConnectorError, relay.ConnectFailed) as exc:
                # Nothing reached the server: another replica may take it.
                refused.add(upstream.key)
                detail = exc.os_error.strerror if isinstance(exc, aiohttp.ClientConnectorError) else None
                last_error = f"{upstream.key}: {detail or exc}"
                log.warning("replica refused the connection", service=route.key, upstream=upstream.key)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                # A pooled keep-alive connection the server had closed: the request never arrived, so it is
                # sent again on a fresh connection.
                last_error = f"{upstream.key}: {type(exc).__name__}: {exc}"
            except TimeoutError:
                raise errors.upstream_failed(
                    route.name,
                    f"{upstream.key} sent no answer within {self._options.upstream_idle_timeout:g}s",
                ) from None
            finally:
                state.outstanding[upstream.key] -= 1
        raise errors.upstream_failed(route.name, last_error)

    def _choose(self, state: ServiceState, candidates: list[Upstream], routed: RoutedRequest) -> Upstream:
        if len(candidates) == 1:
            return candidates[0]
        sticky = self._options.sticky_slack is not None
        by_key = {u.key: u for u in candidates}
        state.turn += 1
        key = choose_endpoint(
            list(by_key),
            state.outstanding,
            prefix_key=sticky_key(routed, prefix_chars=self._options.prefix_chars) if sticky else None,
            sticky_slack=self._options.sticky_slack,
            turn=state.turn,
        )
        return by_key[key]

    async def _exchange(
        self,
        request: web.Request,
        *,
        raw: bytes,
        routed: RoutedRequest,
        upstream: Upstream,
        state: ServiceState,
        woke: bool,
        api_key: str | None,
        queued: float,
    ) -> web.StreamResponse:
        """Send the request to one replica and pass its answer through; errors before the answer starts are
        aiohttp's (the caller may try elsewhere), errors after it drop the client's connection."""
        route = state.route
        headers = upstream_headers(request.headers, api_key=api_key, stream=routed.stream)
        sent = time.monotonic()
        async with self._session.post(
            upstream.url + request.path, data=raw, headers=headers, timeout=self._upstream_timeout
        ) as answer:
            self._refuse_if_key_rejected(answer.status, api_key=api_key, route=route)
            response = self._response(
                answer.status, answer.reason, answer.headers.get, state=state, woke=woke
            )
            if answer.content_length is not None:
                response.content_length = answer.content_length
            try:
                await self._pass_through(request, answer, response, route=route, sent=sent, queued=queued)
            except _ClientGone:
                log.debug("client went away in the middle of an answer", service=route.key)
            except (aiohttp.ClientError, TimeoutError) as exc:
                detail = f"{type(exc).__name__}: {exc}"
                if not response.prepared:
                    raise errors.upstream_failed(route.name, f"{upstream.key}: {detail}") from exc
                _cut_client(request, route=route, upstream=upstream, detail=detail)
            return response

    async def _relay_stream(
        self,
        request: web.Request,
        *,
        raw: bytes,
        routed: RoutedRequest,
        upstream: Upstream,
        state: ServiceState,
        woke: bool,
        api_key: str | None,
        queued: float,
    ) -> web.StreamResponse:
        """`_exchange` for a streamed answer: its own connection, each chunk relayed from the server's socket
        to the client's in the callback that received it (`relay`)."""
        route = state.route
        headers = upstream_headers(request.headers, api_key=api_key, stream=True)
        message = relay.encode_request(
            path=request.path, authority=upstream.authority, headers=headers, body=raw
        )
        sent = time.monotonic()
        exchange = await relay.open_exchange(
            upstream.host,
            upstream.port,
            message,
            connect_timeout=UPSTREAM_CONNECT_TIMEOUT,
            idle_timeout=self._options.upstream_idle_timeout,
        )
        try:
            try:
                head = await exchange.head()
                self._refuse_if_key_rejected(head.status, api_key=api_key, route=route)
                first = await exchange.first_chunk()
            except relay.UpstreamTimeout:
                raise errors.upstream_failed(
                    route.name,
                    f"{upstream.key} sent no answer within {self._options.upstream_idle_timeout:g}s",
                ) from None
            except relay.UpstreamError as exc:
                raise errors.upstream_failed(route.name, f"{upstream.key}: {exc}") from None
            response = self._response(head.status, head.reason, head.get, state=state, woke=woke)
            if head.content_length is not None:
                response.content_length = head.content_length
            ttft = (exchange.first_byte_at or time.monotonic()) - sent
            self._metrics.upstream_ttft.labels(route.namespace, route.name).observe(ttft)
            response.headers[TIMING_HEADER] = server_timing(queued=queued, upstream=ttft)
            try:
                await _to_client(response.prepare(request))
                if first:
                    await _to_client(response.write(first))
                client = request.transport
                if client is None or client.is_closing():
                    raise _ClientGone
                chunked = response.headers.get("Transfer-Encoding", "").lower() == "chunked"
                await exchange.relay(client, chunked=chunked, drain=request.writer.drain)
                await _to_client(response.write_eof())
            except (_ClientGone, relay.ClientGone):
                log.debug("client went away in the middle of an answer", service=route.key)
            except relay.UpstreamError as exc:
                _cut_client(request, route=route, upstream=upstream, detail=str(exc))
            return response
        finally:
            exchange.close()

    def _refuse_if_key_rejected(self, status: int, *, api_key: str | None, route: Route) -> None:
        if status == 401 and api_key is not None and route.api_key is not None:
            # The Secret and the running server disagree (a rotated key before a restart): read it afresh
            # next time, and tell the client whose key failed rather than pass "invalid key" on.
            self._keys.forget(route)
            raise errors.key_refused(route.name, secret=route.api_key.name, key=route.api_key.key)

    def _response(
        self,
        status: int,
        reason: str | None,
        header: Callable[[str], str | None],
        *,
        state: ServiceState,
        woke: bool,
    ) -> web.StreamResponse:
        """The client's response: the server's status and the headers worth passing back."""
        response = web.StreamResponse(status=status, reason=reason or None)
        for name in FORWARDED_RESPONSE_HEADERS:
            value = header(name)
            if value is not None:
                response.headers[name] = value
        if woke and state.last_wake_seconds is not None:
            response.headers[WAKE_HEADER] = f"{state.last_wake_seconds:.3f}"
        return response

    async def _pass_through(
        self,
        request: web.Request,
        answer: aiohttp.ClientResponse,
        response: web.StreamResponse,
        *,
        route: Route,
        sent: float,
        queued: float,
    ) -> None:
        """Every chunk to the client as soon as it arrives: no buffering, so streams stay token by token."""
        first = True
        async for chunk in answer.content.iter_any():
            if first:
                first = False
                ttft = time.monotonic() - sent
                self._metrics.upstream_ttft.labels(route.namespace, route.name).observe(ttft)
                response.headers[TIMING_HEADER] = server_timing(queued=queued, upstream=ttft)
                await _to_client(response.prepare(request))
            await _to_client(response.write(chunk))
        if first:
            response.headers[TIMING_HEADER] = server_timing(queued=queued, upstream=time.monotonic() - sent)
            await _to_client(response.prepare(request))
        await _to_client(response.write_eof())

    def _require_synced(self) -> None:
        if not self._synced():
            raise errors.starting()


def upstream_headers(client: Mapping[str, str], *, api_key: str | None, stream: bool) -> dict[str, str]:
    """The headers a request goes upstream with: the client's content headers, the service's own key."""
    headers = {name: client[name] for name in FORWARDED_REQUEST_HEADERS if name in client}
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    if stream:
        # llama-server hangs up after every streamed answer although it offers keep-alive; a pooled
        # connection would be dead for the next request. Asking for close keeps streams off the pool.
        headers["Connection"] = "close"
    return headers


class _ClientGone(Exception):
    """Writing to the client failed: it disconnected."""


async def _to_client(write: Awaitable[object]) -> None:
    try:
        await write
    except ConnectionError as exc:  # aiohttp's ClientConnectionResetError when the transport is closing
        raise _ClientGone from exc


def _cut_client(request: web.Request, *, route: Route, upstream: Upstream, detail: str) -> None:
    """A replica failed in the middle of an answer. Closing without the final chunk tells the client the
    answer is incomplete, where a clean end would pass a truncated answer off as whole."""
    log.warning(
        "replica failed in the middle of an answer; cutting the client's connection too",
        service=route.key,
        upstream=upstream.key,
        error=detail,
    )
    if request.transport is not None:
        request.transport.close()


def _woke_during(state: ServiceState, arrived: float) -> bool:
    """Whether a wake ended after this request arrived, i.e. the request was held through it."""
    return state.woke_at is not None and state.woke_at >= arrived


def _error_response(err: GatewayError) -> web.Response:
    return web.Response(status=err.status, body=err.encoded(), headers=err.headers())


def _phase(route: Route) -> str:
    if route.replicas == 0 and route.idle_seconds is not None and not route.ready:
        return "ScaledToZero"
    return route.phase


def _unix(timestamp: str | None) -> int:
    parsed = parse_time(timestamp)
    return int(parsed) if parsed is not None else 0
