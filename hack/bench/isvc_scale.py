"""InferenceService controller at scale (not a test): a burst of services, the write limit, memory when settled.

    .venv/bin/python -m hack.bench.isvc_scale --kubeconfig "$LLMKUBE_TEST_KUBECONFIG" burst [--runs 3]
    .venv/bin/python -m hack.bench.isvc_scale --kubeconfig "$LLMKUBE_TEST_KUBECONFIG" rss --services 1000

The cluster must run kwok (the embedded local cluster: `python -m hack.localcluster up`). Every run uses a fresh
namespace (a cache claim and volume, wide fake nodes; see hack.bench.scale_env) and deletes it at the end.

`burst` alternates two runs, `--runs` times each, and prints each run and the medians:

- controller: the controller (a child process) and 200 services created at once (32 creates in flight) on one
  Ready Model. Per service: create -> Deployment exists, create -> Ready; the controller's CPU and peak RSS.
- write limit: no controller; an ideal one in the load generator, with nothing between the API server and its
  writes. The same 200 creates go out the same way (32 in flight, each task free again once its create returns);
  every create's answer goes straight to a pool of `--limit-writers` writer tasks (by default the count that
  was quickest here) that write the same three objects the controller would, built by the same builders: each
  service's Deployment (server-side apply), then, once no Deployment is waiting, its Service and status. No
  watch, cache, queue or reconcile stands between a create and its Deployment write, and Deployments go first:
  what a controller without overhead reaches on this burst and machine. The controller's create -> Deployment
  exists p99 is reported as a ratio to it. (Not a strict bound for one run: its writes start at once and share
  the API server with the creates still going out, so a controller whose writes lag can come out ahead.)
- paced write limit (`--paced-limit`, the first definition): each of the 32 create tasks writes its service's
  three objects itself before it creates the next service. That paces the creates by the writes, so no service
  waits behind the burst: it measures one service's write time under load, not the limit for a burst, and is
  printed for comparison with the figures measured with it.

`rss` creates `--services` services, each with its own Ready Model, waits until every one reports Ready (pods
included with `--replicas 1`), lets the controller settle, and reads its resident memory; `--runs` times. With
`--replicas 0` there are no pods and each service is settled once it reads ScaledToZero (Deployment, Service and
status written): how 10,000 services are measured here, where kube-controller-manager creates pods at 20 a second.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio
from prometheus_client import CollectorRegistry

from api.v1alpha1.converter import from_wire
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import Model
from controller.builders.deployment import desired_deployment
from controller.builders.inferenceservice_status import Placement, service_verdict, status_change
from controller.builders.labels import object_name, selector_string
from controller.builders.service import desired_service, service_endpoint
from controller.config import DEFAULT_MAX_CONCURRENT_RECONCILES, ControllerConfig
from controller.kube import KubeClient, NotFound
from controller.kube.resources import DEPLOYMENTS, INFERENCE_SERVICES, NAMESPACES, SERVICES
from controller.reconcilers.apply import Applier
from controller.runtime.informer import Informer
from controller.runtime.reflector import ReflectorMetrics
from hack.bench.scale_env import (
    controller_output,
    cpu_seconds,
    create_ready_model,
    median,
    percentile,
    prepare_namespace,
    rss_bytes,
    run_controller,
    service_manifest,
    start_controller,
)

CREATE_CONCURRENCY = 32
#: The write limit's writers: the count that put its last Deployment out soonest here (docs/benchmarks.md).
LIMIT_WRITERS = 64

BurstKind = Literal["limit", "controller", "paced"]
SETTLE_SECONDS = 10.0
NAMESPACE_GONE_SECONDS = 300.0
MiB = 2**20


class FirstSeen:
    """Event handler noting when each object first satisfied a predicate (monotonic seconds)."""

    def __init__(self, predicate: Callable[[dict[str, Any]], bool]) -> None:
        self.times: dict[str, float] = {}
        self._predicate = predicate

    def _see(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if name not in self.times and self._predicate(obj):
            self.times[name] = time.monotonic()

    def on_add(self, obj: dict[str, Any]) -> None:
        self._see(obj)

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._see(new)

    def on_delete(self, obj: dict[str, Any]) -> None:
        pass


def is_ready(obj: dict[str, Any]) -> bool:
    return bool((obj.get("status") or {}).get("phase") == "Ready")


def is_settled_at_zero(obj: dict[str, Any]) -> bool:
    """A service deployed with 0 replicas reads ScaledToZero once its Deployment, Service and status are written."""
    return bool((obj.get("status") or {}).get("phase") == "ScaledToZero")


class IdealWriter:
    """What a controller with no overhead at all writes for a new service: Deployment, then Service and status."""

    def __init__(self, kube: KubeClient, model: dict[str, Any]) -> None:
        self._applier = Applier(kube, field_manager=ControllerConfig().field_manager)
        self._model = from_wire(model, Model)
        self._config = ControllerConfig()

    async def write(self, created: dict[str, Any]) -> None:
        written = await self.write_deployment(created)
        await self.write_rest(created, written)

    async def write_deployment(self, created: dict[str, Any]) -> dict[str, Any]:
        isvc = from_wire(created, InferenceService)
        deployment = desired_deployment(isvc=isvc, model=self._model, config=self._config)
        assert deployment is not None, "bench services run on CPU nodes"
        written = await self._applier.ensure(DEPLOYMENTS, deployment, None)
        assert written is not None, "a new service has no Deployment to match"
        return written

    async def write_rest(self, created: dict[str, Any], written: dict[str, Any]) -> None:
        isvc = from_wire(created, InferenceService)
        await self._applier.ensure(SERVICES, desired_service(isvc), None)
        placement = Placement(selector=selector_string(object_name(isvc)), endpoint=service_endpoint(isvc))
        verdict = service_verdict(model_name=isvc.spec.model_ref.name, model=self._model, deployment=written)
        change = status_change(
            raw_status=None, verdict=verdict, placement=placement, generation=1, now=datetime.now(UTC)
        )
        await self._applier.ensure_status(INFERENCE_SERVICES, {**created, "status": {}}, change.desired)


class IdealController:
    """The write limit for a burst: writer tasks fed by the creates' answers, Deployments before anything else.

    `take` hands a created service over without waiting (the create task is free for the next create at once);
    `run` is the pool. A writer takes a waiting Deployment first, else a written Deployment's Service and status.
    """

    def __init__(self, writer: IdealWriter, *, workers: int) -> None:
        self._writer = writer
        self._workers = workers
        self._deployments: collections.deque[dict[str, Any]] = collections.deque()
        self._rest: collections.deque[tuple[dict[str, Any], dict[str, Any]]] = collections.deque()
        self._waiting = anyio.Semaphore(0)

    async def take(self, created: dict[str, Any]) -> None:
        self._deployments.append(created)
        self._waiting.release()

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(self._workers):
                tg.start_soon(self._work)

    async def _work(self) -> None:
        while True:
            await self._waiting.acquire()
            if self._deployments:
                created = self._deployments.popleft()
                written = await self._writer.write_deployment(created)
                self._rest.append((created, written))
                self._waiting.release()
            else:
                await self._writer.write_rest(*self._rest.popleft())


@contextlib.asynccontextmanager
async def bench_namespace(kube: KubeClient, kubeconfig: Path, prefix: str) -> Any:
    namespace = f"{prefix}-{secrets.token_hex(3)}"
    await prepare_namespace(kube, kubeconfig, namespace)
    try:
        yield namespace
    finally:
        with anyio.CancelScope(shield=True), contextlib.suppress(NotFound):
            await kube.delete(NAMESPACES, namespace)
            # The next run starts only once this one's objects are gone: otherwise the garbage collector's
            # deletes of 200 Deployments and pods share the API server with the next run's writes.
            with anyio.move_on_after(NAMESPACE_GONE_SECONDS):
                while True:
                    await kube.get(NAMESPACES, namespace)
                    await anyio.sleep(1)


@contextlib.asynccontextmanager
async def controller_process(kubeconfig: Path, namespace: str, workers: int | None) -> Any:
    process = await start_controller(kubeconfig, namespace, workers=workers)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        with anyio.move_on_after(60, shield=True):
            await process.wait()
            print(f"  {await controller_output(process)}", flush=True)


async def create_services(
    kube: KubeClient,
    names: list[str],
    *,
    namespace: str,
    model_of: Callable[[str], str],
    replicas: int,
    created: dict[str, float],
    then: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    paced: bool = False,
) -> None:
    """`then` is called with each create's answer: inside the create's slot when `paced` (the next create waits
    for it), after the slot is free otherwise."""
    limiter = anyio.CapacityLimiter(CREATE_CONCURRENCY)

    async def create(name: str) -> None:
        async with limiter:
            created[name] = time.monotonic()
            obj = await kube.create(
                INFERENCE_SERVICES, service_manifest(name, namespace, model=model_of(name), replicas=replicas)
            )
            if then is not None and paced:
                await then(obj)
        if then is not None and not paced:
            await then(obj)

    async with anyio.create_task_group() as tg:
        for name in names:
            tg.start_soon(create, name)


async def burst_run(
    kube: KubeClient,
    kubeconfig: Path,
    *,
    count: int,
    workers: int | None,
    kind: BurstKind,
    until_ready: bool = True,
    writers: int = LIMIT_WRITERS,
) -> dict[str, float]:
    """One burst of `count` services, served by the controller (`kind` "controller") or by the load generator
    itself ("limit": the ideal controller, "paced": the paced write limit)."""
    async with bench_namespace(kube, kubeconfig, "bench-burst") as namespace:
        print(
            f"  namespace {namespace} (hack.bench.burst_timeline reads its writes from the audit log)",
            flush=True,
        )
        model = await create_ready_model(kube, "tiny", namespace)
        metrics = ReflectorMetrics(CollectorRegistry())
        deployments = Informer(kube, DEPLOYMENTS, namespace=namespace, metrics=metrics)
        services = Informer(kube, INFERENCE_SERVICES, namespace=namespace, metrics=metrics)
        deployed, ready = FirstSeen(lambda obj: True), FirstSeen(is_ready)
        deployments.add_event_handler(deployed)
        services.add_event_handler(ready)
        created: dict[str, float] = {}
        names = [f"svc-{i:04d}" for i in range(count)]
        async with contextlib.AsyncExitStack() as stack:
            process = None
            if kind == "controller":
                process = await stack.enter_async_context(controller_process(kubeconfig, namespace, workers))
            async with anyio.create_task_group() as tg:
                await tg.start(deployments.run)
                await tg.start(services.run)
                await deployments.wait_synced()
                await services.wait_synced()
                await anyio.sleep(3)  # the namespace's first writes settle before the burst
                writer: Callable[[dict[str, Any]], Awaitable[None]] | None = None
                if kind == "paced":
                    writer = IdealWriter(kube, model).write
                elif kind == "limit":
                    pool = IdealController(IdealWriter(kube, model), workers=writers)
                    tg.start_soon(pool.run)
                    writer = pool.take
                cpu_at_start = cpu_seconds(process.pid) if process is not None else 0.0
                started = time.monotonic()
                await create_services(
                    kube,
                    names,
                    namespace=namespace,
                    model_of=lambda _: "tiny",
                    replicas=1,
                    created=created,
                    then=writer,
                    paced=kind == "paced",
                )
                figures: dict[str, float] = {"creates": time.monotonic() - started}
                with anyio.fail_after(900):
                    while len(deployed.times) < count:  # noqa: ASYNC110 - informer state, no event to await
                        await anyio.sleep(0.1)
                if process is not None:
                    # The controller's CPU seconds from the first create until the last Deployment exists.
                    figures["cpu burst"] = cpu_seconds(process.pid) - cpu_at_start
                if process is not None and until_ready:
                    with anyio.fail_after(900):
                        while len(ready.times) < count:  # noqa: ASYNC110 - informer state, no event to await
                            await anyio.sleep(0.1)
                    to_ready = [ready.times[n] - created[n] for n in names]
                    figures |= {
                        "ready p50": median(to_ready),
                        "ready p99": percentile(to_ready, 0.99),
                        "all ready": time.monotonic() - started,
                        "cpu": cpu_seconds(process.pid),
                        "peak MiB": rss_bytes(process.pid, field="VmHWM") / MiB,
                    }
                to_deployment = [deployed.times[n] - created[n] for n in names]
                figures |= {
                    "deployment p50": median(to_deployment),
                    "deployment p99": percentile(to_deployment, 0.99),
                }
                tg.cancel_scope.cancel()
    return figures


async def rss_run(
    kube: KubeClient, kubeconfig: Path, *, count: int, workers: int | None, replicas: int
) -> dict[str, float]:
    """`count` services with a Model each, until all are Ready and the controller has settled."""
    async with bench_namespace(kube, kubeconfig, "bench-rss") as namespace:
        metrics = ReflectorMetrics(CollectorRegistry())
        services = Informer(kube, INFERENCE_SERVICES, namespace=namespace, metrics=metrics)
        ready = FirstSeen(is_ready if replicas else is_settled_at_zero)
        services.add_event_handler(ready)
        names = [f"svc-{i:05d}" for i in range(count)]
        limiter = anyio.CapacityLimiter(CREATE_CONCURRENCY)

        async def model(name: str) -> None:
            async with limiter:
                await create_ready_model(kube, f"m-{name}", namespace)

        async with anyio.create_task_group() as tg:
            for name in names:
                tg.start_soon(model, name)
        async with (
            controller_process(kubeconfig, namespace, workers) as process,
            anyio.create_task_group() as tg,
        ):
            await tg.start(services.run)
            await services.wait_synced()
            await anyio.sleep(3)
            started = time.monotonic()
            await create_services(
                kube,
                names,
                namespace=namespace,
                model_of=lambda name: f"m-{name}",
                replicas=replicas,
                created={},
            )
            with anyio.fail_after(3600):
                while len(ready.times) < count:  # noqa: ASYNC110 - informer state, no event to await
                    await anyio.sleep(0.5)
            all_ready = time.monotonic() - started
            await anyio.sleep(SETTLE_SECONDS)
            figures = {
                "settled MiB": rss_bytes(process.pid) / MiB,
                "peak MiB": rss_bytes(process.pid, field="VmHWM") / MiB,
                "all ready": all_ready,
                "cpu": cpu_seconds(process.pid),
            }
            # Printed now: deleting thousands of objects afterwards can take longer than the run itself.
            print(f"  settled: {figures}", flush=True)
            tg.cancel_scope.cancel()
    return figures


def report(title: str, runs: list[dict[str, float]]) -> dict[str, float]:
    print(f"== {title}")
    for index, figures in enumerate(runs, 1):
        print(f"  run {index}: " + "   ".join(f"{k} {v:.2f}" for k, v in figures.items()), flush=True)
    medians = {key: median([run[key] for run in runs]) for key in runs[0]}
    print("  median: " + "   ".join(f"{k} {v:.2f}" for k, v in medians.items()), flush=True)
    return medians


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


async def bench(arguments: argparse.Namespace) -> None:
    print(f"load average at start: {load_average()} ({os.cpu_count()} CPUs)", flush=True)
    async with KubeClient.connect(kubeconfig=arguments.kubeconfig) as kube:
        if arguments.mode == "rss":
            runs = []
            for _ in range(arguments.runs):
                runs.append(
                    await rss_run(
                        kube,
                        arguments.kubeconfig,
                        count=arguments.services,
                        workers=arguments.workers,
                        replicas=arguments.replicas,
                    )
                )
                print(f"  run: {runs[-1]} (load {load_average()})", flush=True)
            report(f"RSS, {arguments.services} services (replicas {arguments.replicas}) settled", runs)
            return
        kinds: list[BurstKind] = ["limit"]
        if not arguments.limit_only:
            kinds.append("controller")
        if arguments.paced_limit:
            kinds.append("paced")
        titles = {"limit": "write limit", "controller": "controller", "paced": "paced write limit"}
        bursts: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
        for _ in range(arguments.runs):
            for kind in kinds:
                bursts[kind].append(
                    await burst_run(
                        kube,
                        arguments.kubeconfig,
                        count=arguments.services,
                        workers=arguments.workers,
                        kind=kind,
                        until_ready=not arguments.deployments_only,
                        writers=arguments.limit_writers,
                    )
                )
                print(f"  {titles[kind]}: {bursts[kind][-1]} (load {load_average()})", flush=True)
        workers = arguments.workers or DEFAULT_MAX_CONCURRENT_RECONCILES
        tasks = {
            "limit": f"{arguments.limit_writers} writers",
            "controller": f"{workers} workers",
            "paced": f"{CREATE_CONCURRENCY} create tasks",
        }
        medians = {
            kind: report(f"{titles[kind]}, {arguments.services} services, {tasks[kind]}", bursts[kind])
            for kind in kinds
        }
        if arguments.limit_only:
            return
        ratio = medians["controller"]["deployment p99"] / medians["limit"]["deployment p99"]
        print(f"create -> Deployment exists p99, controller / write limit: {ratio:.2f}")
        if "paced" in medians:
            paced = medians["controller"]["deployment p99"] / medians["paced"]["deployment p99"]
            print(f"  (controller / paced write limit: {paced:.2f})")
    print(f"load average at end: {load_average()}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", nargs="?", choices=["burst", "rss"], default="burst")
    parser.add_argument("--kubeconfig", type=Path, default=os.environ.get("LLMKUBE_TEST_KUBECONFIG"))
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=1, help="replicas per service in the rss mode")
    parser.add_argument(
        "--deployments-only",
        action="store_true",
        help="burst: end each controller run once every Deployment exists (quicker; no Ready figures)",
    )
    parser.add_argument("--workers", type=int, help="the controller's workers (default: its own default)")
    parser.add_argument(
        "--limit-writers",
        type=int,
        default=LIMIT_WRITERS,
        help=f"the write limit's writer tasks (default {LIMIT_WRITERS}, its quickest here)",
    )
    parser.add_argument("--limit-only", action="store_true", help="burst: run only the write limit")
    parser.add_argument(
        "--paced-limit",
        action="store_true",
        help="burst: also run the paced write limit (each create task writes its service before the next create)",
    )
    parser.add_argument("--controller", metavar="NAMESPACE", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.kubeconfig is None:
        parser.error(
            "--kubeconfig (or LLMKUBE_TEST_KUBECONFIG) is required: run `python -m hack.localcluster up`"
        )
    if arguments.services < 1 or arguments.runs < 1 or arguments.replicas < 0:
        parser.error("--services and --runs must be at least 1, --replicas at least 0")
    if arguments.controller:
        anyio.run(
            lambda: run_controller(arguments.kubeconfig, arguments.controller, workers=arguments.workers)
        )
        return 0
    anyio.run(bench, arguments)
    return 0


if __name__ == "__main__":
    sys.exit(main())
