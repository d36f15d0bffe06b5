"""The proxy against stand-in servers on loopback: routing, pass-through, admission and waking, without a cluster."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import anyio
import attrs
from prometheus_client import CollectorRegistry

from llmkube.gateway.keys import KeySource, NoKeys
from llmkube.gateway.metrics import GatewayMetrics
from llmkube.gateway.options import GatewayOptions
from llmkube.gateway.proxy import WAKE_HEADER, Proxy
from llmkube.gateway.routes import Route, Upstream
from llmkube.gateway.server import ApiServer
from llmkube.gateway.table import RouteTable, ServiceState
from llmkube.gateway.timing import TIMING_HEADER, parse_server_timing
from tests.unit.gateway.conftest import route
from tests.unit.gateway.fake_upstream import FakeUpstream

OPTIONS = GatewayOptions(queue_size=1, queue_timeout=30, wake_timeout=30)


@attrs.define
class Gateway:
    url: str
    table: RouteTable
    registry: CollectorRegistry

    def requests_counted(self, code: str, model: str = "chat") -> float:
        labels = {"namespace": "team-a" if model else "", "model": model, "code": code}
        return self.registry.get_sample_value("llmkube_gateway_requests_total", labels) or 0.0


async def until(condition: Callable[[], object]) -> None:
    """Wait for state the proxy and the stand-in servers keep in memory; they signal nothing to await."""
    with anyio.fail_after(10):
        while not condition():  # noqa: ASYNC110 - plain counters, no event to wait on
            await anyio.sleep(0.01)


async def no_wake(state: ServiceState) -> None:
    raise AssertionError("nothing should be woken")


@contextlib.asynccontextmanager
async def running_gateway(
    *routes: Route,
    options: GatewayOptions = OPTIONS,
    wake: Callable[[ServiceState], Awaitable[None]] = no_wake,
    synced: bool = True,
    keys: KeySource | None = None,
) -> AsyncIterator[Gateway]:
    registry = CollectorRegistry()
    metrics = GatewayMetrics(registry)
    table = RouteTable(queue_limit=options.queue_size, metrics=metrics)
    for r in routes:
        table.refresh(r.key, r)
    async with aiohttp.ClientSession() as session:
        proxy = Proxy(
            table=table,
            wake=wake,
            metrics=metrics,
            options=options,
            session=session,
            synced=lambda: synced,
            keys=keys if keys is not None else NoKeys(),
        )
        server = ApiServer(proxy.application(), host="127.0.0.1", port=0, drain_seconds=1)
        async with anyio.create_task_group() as tg:
            await tg.start(server.run)
            yield Gateway(url=f"http://127.0.0.1:{server.port}", table=table, registry=registry)
            tg.cancel_scope.cancel()


def served_by(*upstreams: FakeUpstream, **kwargs: object) -> Route:
    base = route(ready=0, **kwargs)  # type: ignore[arg-type]
    ready = tuple(Upstream(host="127.0.0.1", port=u.port) for u in upstreams)
    return attrs.evolve(base, ready=ready, replicas=max(base.replicas, len(ready)))


async def post(
    session: aiohttp.ClientSession, url: str, body: dict[str, object]
) -> tuple[int, dict[str, object], dict[str, str]]:
    async with session.post(url + "/v1/chat/completions", json=body) as response:
        return response.status, await response.json(), dict(response.headers)


async def test_a_request_goes_to_the_named_service_with_its_body_unchanged(upstream: FakeUpstream) -> None:
    raw = b'{"model": "chat",   "messages": [{"role": "user", "content": "hi"}]}'
    headers = {"Content-Type": "application/json"}
    async with (
        running_gateway(served_by(upstream)) as gateway,
        aiohttp.ClientSession() as session,
        session.post(gateway.url + "/v1/chat/completions", data=raw, headers=headers) as response,
    ):
        answer = await response.json()

    assert (response.status, answer["model"]) == (200, "chat")
    assert upstream.seen[0].body == raw
    assert upstream.seen[0].path == "/v1/chat/completions"
    assert gateway.requests_counted("200") == 1


async def test_an_unknown_model_gets_a_404_in_openais_shape(upstream: FakeUpstream) -> None:
    async with running_gateway(served_by(upstream)) as gateway, aiohttp.ClientSession() as session:
        status, body, _ = await post(session, gateway.url, {"model": "nope", "messages": []})

    assert status == 404
    assert body == {
        "error": {
            "message": body["error"]["message"],  # type: ignore[index]
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
    assert upstream.seen == []
    assert gateway.requests_counted("404", model="") == 1


async def test_a_body_that_is_not_json_is_a_400(upstream: FakeUpstream) -> None:
    async with (
        running_gateway(served_by(upstream)) as gateway,
        aiohttp.ClientSession() as session,
        session.post(gateway.url + "/v1/completions", data=b"{not json") as response,
    ):
        body = await response.json()

    assert response.status == 400
    assert body["error"]["type"] == "invalid_request_error"


async def test_a_stream_reaches_the_client_chunk_by_chunk(upstream: FakeUpstream) -> None:
    body = {"model": "chat", "stream": True, "messages": []}
    received: list[bytes] = []
    async with (
        running_gateway(served_by(upstream)) as gateway,
        aiohttp.ClientSession() as session,
        session.post(gateway.url + "/v1/chat/completions", json=body) as response,
    ):
        # Each next chunk is only released once the previous one came through the gateway: a proxy that
        # buffered would hang here (and the test would time out), never pass.
        for _ in range(2):
            received.append(await response.content.readuntil(b"\n\n"))
            upstream.release.put_nowait(None)
        received.append(await response.content.read())

    assert b'"n": 0' in received[0]
    assert b'"n": 1' in received[1]
    assert received[2].endswith(b"data: [DONE]\n\n")
    assert response.headers["Content-Type"] == "text/event-stream"
    assert upstream.seen[0].headers["Connection"] == "close"


async def test_an_answer_says_how_long_the_server_took_to_its_first_byte(upstream: FakeUpstream) -> None:
    upstream.hold = anyio.Event()
    body = {"model": "chat", "stream": True, "messages": []}
    async with (
        running_gateway(served_by(upstream)) as gateway,
        aiohttp.ClientSession() as session,
        anyio.create_task_group() as tg,
    ):

        async def answer_late() -> None:
            await anyio.sleep(0.2)
            assert upstream.hold is not None
            upstream.hold.set()
            for _ in range(2):
                upstream.release.put_nowait(None)

        sent = time.monotonic()
        tg.start_soon(answer_late)
        async with session.post(gateway.url + "/v1/chat/completions", json=body) as response:
            await response.content.readany()
            first_byte_ms = (time.monotonic() - sent) * 1000
            timing = parse_server_timing(response.headers[TIMING_HEADER])
            await response.read()

    assert set(timing) == {"queue", "upstream"}
    assert 0 <= timing["queue"] < 100  # a free slot: admitted at once
    assert 200 <= timing["upstream"] <= first_byte_ms


async def test_a_client_that_disconnects_cancels_the_upstream_request(upstream: FakeUpstream) -> None:
    body = {"model": "chat", "stream": True, "messages": []}
    async with running_gateway(served_by(upstream)) as gateway:
        async with (
            aiohttp.ClientSession() as session,
            session.post(gateway.url + "/v1/chat/completions", json=body) as response,
        ):
            await response.content.readuntil(b"\n\n")
            assert upstream.active == 1
        # Leaving the session closed the client's connection mid-stream.
        await until(lambda: not upstream.active)
        state = gateway.table.resolve("chat")

    assert upstream.cancelled == 1
    assert state.gate.in_flight == 0
    assert sum(state.outstanding.values()) == 0
    assert gateway.requests_counted("499") == 1


async def test_a_burst_beyond_slots_and_queue_gets_429_with_retry_after(upstream: FakeUpstream) -> None:
    upstream.hold = anyio.Event()
    full = served_by(upstream, slots=1)
    results: list[tuple[int, dict[str, object], dict[str, str]]] = []
    async with running_gateway(full) as gateway, aiohttp.ClientSession() as session:
        state = gateway.table.resolve("chat")

        async def one() -> None:
            results.append(await post(session, gateway.url, {"model": "chat", "messages": []}))

        async with anyio.create_task_group() as tg:
            for _ in range(2):  # one runs, one waits
                tg.start_soon(one)
            await until(lambda: state.gate.in_flight + state.gate.waiting == 2)
            status, refused, headers = await post(session, gateway.url, {"model": "chat", "messages": []})
            upstream.hold.set()

    assert status == 429
    assert refused["error"]["code"] == "rate_limit_exceeded"  # type: ignore[index]
    assert int(headers["Retry-After"]) >= 1
    assert sorted(r[0] for r in results) == [200, 200]


async def test_a_wait_past_the_queue_timeout_is_a_503(upstream: FakeUpstream) -> None:
    upstream.hold = anyio.Event()
    options = attrs.evolve(OPTIONS, queue_timeout=0.05)
    async with (
        running_gateway(served_by(upstream, slots=1), options=options) as gateway,
        aiohttp.ClientSession() as session,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(post, session, gateway.url, {"model": "chat", "messages": []})
        await until(lambda: upstream.active)
        status, body, headers = await post(session, gateway.url, {"model": "chat", "messages": []})
        upstream.hold.set()

    assert status == 503
    assert body["error"]["code"] == "queue_timeout"  # type: ignore[index]
    assert "Retry-After" in headers


async def test_requests_spread_over_replicas_by_outstanding_count() -> None:
    async with FakeUpstream() as a, FakeUpstream() as b:
        a.hold = anyio.Event()
        b.hold = anyio.Event()
        async with (
            running_gateway(served_by(a, b, slots=1)) as gateway,
            aiohttp.ClientSession() as session,
            anyio.create_task_group() as tg,
        ):
            for _ in range(2):
                tg.start_soon(post, session, gateway.url, {"model": "chat", "messages": []})
            await until(lambda: a.active + b.active == 2)
            a.hold.set()
            b.hold.set()

    assert (len(a.seen), len(b.seen)) == (1, 1)


async def test_requests_that_start_alike_stay_on_one_replica() -> None:
    conversation = {"model": "chat", "messages": [{"role": "system", "content": "You are a pirate."}]}
    async with (
        FakeUpstream() as a,
        FakeUpstream() as b,
        running_gateway(served_by(a, b)) as gateway,
        aiohttp.ClientSession() as session,
    ):
        for _ in range(4):
            await post(session, gateway.url, conversation)

    assert sorted((len(a.seen), len(b.seen))) == [0, 4]


async def test_a_replica_that_refuses_connections_is_skipped(upstream: FakeUpstream) -> None:
    dead = Upstream(host="127.0.0.1", port=1)  # nothing listens on port 1
    alive = served_by(upstream)
    with_dead = attrs.evolve(alive, ready=(dead, *alive.ready), replicas=2, slots=4)
    async with running_gateway(with_dead) as gateway, aiohttp.ClientSession() as session:
        statuses = [
            (await post(session, gateway.url, {"model": "chat", "messages": []}))[0] for _ in range(3)
        ]

    assert statuses == [200, 200, 200]
    assert len(upstream.seen) == 3


async def test_a_service_at_zero_that_does_not_opt_in_is_refused_with_the_fix() -> None:
    at_zero = route(ready=0, replicas=0)
    async with running_gateway(at_zero) as gateway, aiohttp.ClientSession() as session:
        status, body, _ = await post(session, gateway.url, {"model": "chat", "messages": []})

    assert status == 503
    assert body["error"]["code"] == "model_unavailable"  # type: ignore[index]
    assert "scaleToZero" in body["error"]["message"]  # type: ignore[index]


async def test_a_request_for_a_sleeping_service_wakes_it_and_is_answered(upstream: FakeUpstream) -> None:
    asleep = route(ready=0, replicas=0, idle_seconds=60)
    woken: list[str] = []
    held: list[tuple[int, dict[str, object], dict[str, str]]] = []

    async def wake(state: ServiceState) -> None:
        woken.append(state.route.key)
        state.waking_since = time.time()  # as the real waker does, so the wake's end is recorded

    async with running_gateway(asleep, wake=wake) as gateway, aiohttp.ClientSession() as session:

        async def first() -> None:
            held.append(await post(session, gateway.url, {"model": "chat", "messages": []}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            state = gateway.table.resolve("chat")
            await until(lambda: state.gate.waiting)
            # The replica comes up: its slice turns ready.
            awake = served_by(upstream, idle_seconds=60)
            gateway.table.refresh(awake.key, awake)
        status, _, headers = await post(session, gateway.url, {"model": "chat", "messages": []})

    assert woken == ["team-a/chat"]
    assert [r[0] for r in held] == [200]
    assert float(held[0][2][WAKE_HEADER]) >= 0
    assert status == 200
    assert WAKE_HEADER not in headers  # only requests held through the wake report it


async def test_a_request_right_after_a_scale_down_wakes_the_service_instead_of_using_a_stopping_server(
    upstream: FakeUpstream,
) -> None:
    awake = served_by(upstream, idle_seconds=60)
    woken: list[str] = []

    async def wake(state: ServiceState) -> None:
        woken.append(state.route.key)
        state.asleep_version = None
        gateway.table.refresh(awake.key, attrs.evolve(awake, resource_version="8"))

    async with running_gateway(awake, wake=wake) as gateway, aiohttp.ClientSession() as session:
        gateway.table.resolve("chat").fell_asleep(version="7", now=time.time())
        status, _, _ = await post(session, gateway.url, {"model": "chat", "messages": []})

    assert woken == ["team-a/chat"]
    assert status == 200


async def test_models_lists_every_routable_service_with_its_phase(upstream: FakeUpstream) -> None:
    asleep = route(name="sleepy", ready=0, replicas=0, idle_seconds=60)
    async with running_gateway(served_by(upstream), asleep) as gateway, aiohttp.ClientSession() as session:
        async with session.get(gateway.url + "/v1/models") as response:
            listing = await response.json()
        async with session.get(gateway.url + "/v1/models/sleepy") as response:
            one = await response.json()

    assert [(m["id"], m["phase"]) for m in listing["data"]] == [("chat", "Ready"), ("sleepy", "ScaledToZero")]
    assert listing["object"] == "list"
    assert one["id"] == "sleepy"


async def test_before_the_caches_synced_requests_are_refused_as_starting(upstream: FakeUpstream) -> None:
    async with (
        running_gateway(served_by(upstream), synced=False) as gateway,
        aiohttp.ClientSession() as session,
    ):
        status, body, headers = await post(session, gateway.url, {"model": "chat", "messages": []})

    assert status == 503
    assert body["error"]["code"] == "gateway_starting"  # type: ignore[index]
    assert headers["Retry-After"] == "1"


async def test_unknown_paths_answer_in_openais_shape(upstream: FakeUpstream) -> None:
    async with (
        running_gateway(served_by(upstream)) as gateway,
        aiohttp.ClientSession() as session,
        session.get(gateway.url + "/v1/files") as response,
    ):
        body = json.loads(await response.read())

    assert response.status == 404
    assert body["error"]["code"] == "unknown_url"
