"""Informer benchmark against a real apiserver (not a test): throughput, sync time and memory per object.

    .venv/bin/python hack/bench/informer.py --kubeconfig ~/.cache/llmkube/cluster/kubeconfig

Installs a throwaway CRD and namespace, then reports:
- events/s the informer applies when the apiserver replays a backlog of 3 updates on each of 1,000 objects
  (read + JSON parse + store + dispatch; the apiserver's writes are not in the way), and while updates are live;
- initial sync time (LIST + store + handlers) for 1,000 and 10,000 objects, median of 3;
- resident memory per 1,000 cached objects, measured from the process RSS around a 10,000-object sync.
Everything it created is deleted at the end.
"""

from __future__ import annotations

import argparse
import gc
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from prometheus_client import CollectorRegistry

from controller.kube import KubeClient, NotFound, Resource, Timeouts
from controller.kube.resources import CUSTOM_RESOURCE_DEFINITIONS, NAMESPACES
from controller.runtime.informer import Informer
from controller.runtime.reflector import ReflectorMetrics

ITEMS = Resource(
    group="bench.llmkube.dev", version="v1", plural="benchitems", kind="BenchItem", namespaced=True
)
CONCURRENCY = 32


def crd() -> dict[str, Any]:
    return {
        "metadata": {"name": f"{ITEMS.plural}.{ITEMS.group}"},
        "spec": {
            "group": ITEMS.group,
            "scope": "Namespaced",
            "names": {"plural": ITEMS.plural, "singular": "benchitem", "kind": ITEMS.kind},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }


def item(name: str, namespace: str) -> dict[str, Any]:
    """About the size of a Model: a few hundred bytes of spec plus labels."""
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "bench"},
        },
        "spec": {
            "source": {
                "huggingFace": {"repo": "bartowski/Llama-3.2-3B-Instruct-GGUF", "filename": f"{name}.gguf"}
            },
            "gpuCount": 1,
            "quantization": "Q4_K_M",
            "round": 0,
        },
    }


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class Counting:
    def __init__(self) -> None:
        self.count = 0
        self.done = anyio.Event()
        self.target = 0

    def _tick(self) -> None:
        self.count += 1
        if self.target and self.count >= self.target:
            self.done.set()

    def on_add(self, obj: dict[str, Any]) -> None:
        self._tick()

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._tick()

    def on_delete(self, obj: dict[str, Any]) -> None:
        self._tick()


async def for_each(names: list[str], action: Any) -> None:
    limiter = anyio.CapacityLimiter(CONCURRENCY)

    async def one(name: str) -> None:
        async with limiter:
            await action(name)

    async with anyio.create_task_group() as tg:
        for name in names:
            tg.start_soon(one, name)


async def create_items(kube: KubeClient, namespace: str, start: int, stop: int) -> float:
    began = time.perf_counter()
    await for_each(
        [f"item-{i:05d}" for i in range(start, stop)], lambda n: kube.create(ITEMS, item(n, namespace))
    )
    return time.perf_counter() - began


async def sync_time(kube: KubeClient, namespace: str, expected: int) -> float:
    informer = Informer(kube, ITEMS, namespace=namespace, metrics=ReflectorMetrics(CollectorRegistry()))
    adds = Counting()
    adds.target = expected  # every object arrives as one add, from the LIST or from the watch after it
    informer.add_event_handler(adds)
    began = time.perf_counter()
    async with anyio.create_task_group() as tg:
        await tg.start(informer.run)
        await informer.wait_synced()
        # The first LIST is served at resourceVersion "0" from the watch cache, which may trail the newest
        # writes by a few objects (as with client-go); the watch delivers them. Time the complete cache.
        with anyio.fail_after(60):
            await adds.done.wait()
        took = time.perf_counter() - began
        tg.cancel_scope.cancel()
    assert len(informer.store) == expected, (len(informer.store), expected)
    return took


async def replay_throughput(kube: KubeClient, namespace: str, names: list[str]) -> tuple[float, float]:
    """(backlog events/s, live events/s) for 3 rounds of updates on every object."""
    informer = Informer(kube, ITEMS, namespace=namespace, metrics=ReflectorMetrics(CollectorRegistry()))
    snapshot = await kube.list(ITEMS, namespace=namespace, resource_version="")
    informer.replace(snapshot.items, snapshot.resource_version)
    counter = Counting()
    informer.add_event_handler(counter)
    counter.count = 0
    rounds = 3

    async def bump(name: str, value: int) -> None:
        await kube.merge_patch(ITEMS, name, {"spec": {"round": value}}, namespace=namespace)

    # Live: updates flow while the informer watches.
    live_informer = Informer(kube, ITEMS, namespace=namespace, metrics=ReflectorMetrics(CollectorRegistry()))
    live = Counting()
    live_informer.add_event_handler(live)
    async with anyio.create_task_group() as tg:
        await tg.start(live_informer.run)
        await live_informer.wait_synced()
        live.count, live.target = 0, rounds * len(names)
        began = time.perf_counter()
        for value in range(1, rounds + 1):
            await for_each(names, lambda n, v=value: bump(n, v))
        await live.done.wait()
        live_rate = live.target / (time.perf_counter() - began)
        tg.cancel_scope.cancel()

    # Backlog: the same number of events, already waiting in the apiserver's watch cache.
    target = rounds * len(names)
    began = time.perf_counter()
    async with kube.watch(
        ITEMS, namespace=namespace, resource_version=snapshot.resource_version, timeout_seconds=120
    ) as stream:
        async for event in stream:
            if event.type == "BOOKMARK":
                continue
            informer.apply(event)
            if counter.count >= target:
                break
    backlog_rate = target / (time.perf_counter() - began)
    return backlog_rate, live_rate


async def main(kubeconfig: Path | None) -> None:
    async with KubeClient.connect(kubeconfig=kubeconfig, timeouts=Timeouts(request=120)) as kube:
        await kube.apply(CUSTOM_RESOURCE_DEFINITIONS, crd(), field_manager="llmkube-bench")
        await anyio.sleep(2)  # let the new group be served
        namespace = f"bench-{secrets.token_hex(3)}"
        await kube.create(NAMESPACES, {"metadata": {"name": namespace}})
        try:
            took = await create_items(kube, namespace, 0, 1000)
            print(f"created 1,000 objects in {took:.1f}s ({1000 / took:.0f}/s)")
            names = [f"item-{i:05d}" for i in range(1000)]
            backlog, live = await replay_throughput(kube, namespace, names)
            print(
                f"informer events/s, 1,000 objects x 3 updates: backlog replay {backlog:,.0f}/s, live {live:,.0f}/s"
            )
            syncs = [await sync_time(kube, namespace, 1000) for _ in range(3)]
            print(f"initial sync, 1,000 objects: {statistics.median(syncs) * 1000:.0f} ms (median of 3)")
            took = await create_items(kube, namespace, 1000, 10000)
            print(f"created 9,000 more objects in {took:.1f}s")
            syncs = [await sync_time(kube, namespace, 10000) for _ in range(3)]
            print(f"initial sync, 10,000 objects: {statistics.median(syncs) * 1000:.0f} ms (median of 3)")

            # A fresh process, so memory freed by the informers above cannot hide the cache's real footprint.
            command = [sys.executable, __file__, "--measure-rss", namespace]
            if kubeconfig is not None:
                command += ["--kubeconfig", str(kubeconfig)]
            result = await anyio.run_process(command)
            print(result.stdout.decode().strip())
        finally:
            try:
                await kube.delete(NAMESPACES, namespace)
                await kube.delete(CUSTOM_RESOURCE_DEFINITIONS, f"{ITEMS.plural}.{ITEMS.group}")
            except NotFound:
                pass


async def measure_rss(kubeconfig: Path | None, namespace: str) -> None:
    async with KubeClient.connect(kubeconfig=kubeconfig, timeouts=Timeouts(request=120)) as kube:
        informer = Informer(kube, ITEMS, namespace=namespace, metrics=ReflectorMetrics(CollectorRegistry()))
        await kube.list(ITEMS, namespace=namespace, page_size=1)  # warm the client before the baseline
        gc.collect()
        before = rss_bytes()
        async with anyio.create_task_group() as tg:
            await tg.start(informer.run)
            await informer.wait_synced()
            gc.collect()
            after = rss_bytes()
            tg.cancel_scope.cancel()
    per_thousand = (after - before) / (len(informer.store) / 1000)
    print(
        f"RSS per 1,000 cached objects: {per_thousand / 2**20:.2f} MiB "
        f"({len(informer.store):,} objects; process RSS {before / 2**20:.0f} -> {after / 2**20:.0f} MiB)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kubeconfig", type=Path, default=None, help="defaults to $KUBECONFIG")
    parser.add_argument("--measure-rss", metavar="NAMESPACE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_rss:
        anyio.run(measure_rss, args.kubeconfig, args.measure_rss)
    else:
        anyio.run(main, args.kubeconfig)
