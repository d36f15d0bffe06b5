"""Chaos benchmark (not a test): services and Models churned while faults overlap, then one table of how it ended.

    .venv/bin/python -m hack.bench.chaos [--services 200] [--duration 240] [--seed 1]

It starts its own local cluster (it must own kube-apiserver and etcd to restart and compact them), mounts the
stand-in node's model cache as a size-limited tmpfs, and runs two replicas of the real `llmkube-controller`
(leader election on) that reach the API server through a fault-injecting proxy (hack/bench/fault_proxy.py).
Download pods have no node on kwok: the stand-in kubelet (hack/localcluster/podrunner.py) runs each one's
`llmkube fetch` as a local process. Then:

1. `--services` InferenceServices over `--services`/10 Models are created and left to converge;
2. for `--duration` seconds the churn (hack/bench/chaos_churn.py) creates, changes, scales, retargets and deletes
   them while the faults of a schedule drawn from `--seed` overlap: kube-apiserver killed and restarted, etcd
   compacted (forcing 410 Gone on every resumed list and watch), watch streams frozen, 429/500 answers and
   connection resets from the proxy, the leader replica SIGKILLed mid-reconcile, a download killed mid-file,
   the cache volume filled up, a published cache file corrupted;
3. once the last fault has ended and every Model exists again, it waits for convergence and prints the table:
   faults injected by kind; time to converge after the last fault (p50 and max over services); services with a
   child missing, extra or stale (hack/bench/chaos_convergence.py); the most replicas that reported leading at
   once; Ready Models served from a corrupt or half-written file; controller exits nobody injected and log
   records with a traceback.

Everything it starts is stopped at the end (the cluster, the controllers, the proxy, the tmpfs).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from api.v1alpha1.fetch_result import cache_key_for
from controller.config import ControllerConfig
from controller.kube import KubeClient, KubeError
from controller.kube.resources import DEPLOYMENTS, INFERENCE_SERVICES, MODELS, NAMESPACES, NODES, SERVICES
from controller.reconcilers.model import FETCH_SELECTOR
from hack.bench.chaos_cache import CacheVolume, ThrottledSource, kill_downloads
from hack.bench.chaos_churn import Churn
from hack.bench.chaos_controllers import Replicas
from hack.bench.chaos_convergence import Verdict, judge, served_corruptions
from hack.bench.fault_proxy import FaultProxy
from hack.bench.scale_env import BENCH_NODES, median
from hack.llama import smollm2_gguf
from hack.localcluster import certs
from hack.localcluster.cluster import LocalCluster
from hack.localcluster.inventory import DEFAULT_NODES, FakeNode
from hack.localcluster.kubeconfig import write_kubeconfig
from hack.localcluster.podrunner import PodRunner

NAMESPACE = "chaos"
CACHE_CLAIM = ControllerConfig().model_cache_pvc_name
#: Sources the churn switches Models between; every fault that needs a fresh download takes the next index.
CHURN_SOURCES = 3
SOURCE_RATE = 24 * 2**20
CACHE_VOLUME_BYTES = 900 * 2**20
CONVERGE_TIMEOUT = 300.0
INITIAL_TIMEOUT = 300.0
POLL_SECONDS = 2.0
#: Download pods the stand-in kubelet runs at once (a node runs several Job pods side by side).
DOWNLOAD_SLOTS = 4


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


class Run:
    """One chaos run's moving parts, handed to the fault injectors."""

    def __init__(
        self,
        *,
        cluster: LocalCluster,
        kube: KubeClient,
        proxy: FaultProxy,
        replicas: Replicas,
        churn: Churn,
        cache: CacheVolume,
        source: ThrottledSource,
        seed: int,
    ) -> None:
        self.cluster = cluster
        self.kube = kube
        self.proxy = proxy
        self.replicas = replicas
        self.churn = churn
        self.cache = cache
        self.source = source
        self.faults: Counter[str] = Counter()
        self.last_fault_end = 0.0
        #: One kube-apiserver restart at a time (a compaction restarts it too): overlapping ones would race.
        self.control_plane = anyio.Lock()
        self._next_source = CHURN_SOURCES
        self._random = random.Random(seed + 1)

    def fresh_source(self) -> str:
        url = self.source.url(self._next_source)
        self._next_source += 1
        return url

    async def retarget_a_model(self, url: str) -> None:
        model = self._random.choice(self.churn.model_names)
        for _ in range(30):
            try:
                await self.kube.merge_patch(
                    MODELS, model, {"spec": {"source": {"url": url}}}, namespace=NAMESPACE
                )
                return
            except KubeError:
                await anyio.sleep(1)


# -- the faults ---------------------------------------------------------------------------------------------


async def restart_apiserver(run: Run) -> None:
    async with run.control_plane:
        await anyio.to_thread.run_sync(run.cluster.restart_apiserver)
    run.faults["kube-apiserver restarts"] += 1


async def kill_leader(run: Run) -> None:
    if await run.replicas.kill_leader(run.kube) is not None:
        run.faults["leader SIGKILLs"] += 1


async def freeze_watches(run: Run) -> None:
    run.proxy.freeze_watches(20)
    run.faults["watch freezes (20 s)"] += 1
    await anyio.sleep(20)


async def error_burst(run: Run) -> None:
    run.proxy.inject_errors(15)
    run.faults["429/500 bursts (15 s)"] += 1
    await anyio.sleep(15)


async def reset_burst(run: Run) -> None:
    run.proxy.inject_resets(10)
    run.faults["reset bursts (10 s)"] += 1
    await anyio.sleep(10)


async def compact_etcd(run: Run) -> None:
    async with run.control_plane:
        await anyio.to_thread.run_sync(run.cluster.compact_etcd)
    run.faults["etcd compactions"] += 1


async def kill_download(run: Run) -> None:
    """A fresh source for a Model, so a download starts; SIGKILL its fetcher a second or two into the file."""
    await run.retarget_a_model(run.fresh_source())
    with anyio.move_on_after(60):
        while True:
            await anyio.sleep(0.5)
            if any(_fetching()):
                await anyio.sleep(1 + run._random.random())
                if kill_downloads():
                    run.faults["downloads killed mid-file"] += 1
                    return


def _fetching() -> list[int]:
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if parent == me and b"fetch" in (entry / "cmdline").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


async def fill_cache(run: Run) -> None:
    """Fill the cache volume, start a download into it, and free the space 25 s later."""
    await anyio.to_thread.run_sync(run.cache.fill)
    run.faults["cache volume full (25 s)"] += 1
    await run.retarget_a_model(run.fresh_source())
    await anyio.sleep(25)
    run.cache.drain()


async def corrupt_cached_file(run: Run) -> None:
    """Flip bytes in a published file, then point a Model at it so a fetch meets it."""
    published = run.cache.published()
    if not published:
        return
    victim = run._random.choice(published)
    await anyio.to_thread.run_sync(run.cache.corrupt, victim)
    run.faults["cached files corrupted"] += 1
    key = victim.parent.name
    for index in range(run._next_source):
        url = run.source.url(index)
        if cache_key_for(url) == key:
            await run.retarget_a_model(url)
            return


Fault = Callable[[Run], Awaitable[None]]
#: Each fault and how many times one run injects it.
SCHEDULE: tuple[tuple[Fault, int], ...] = (
    (restart_apiserver, 2),
    (kill_leader, 2),
    (freeze_watches, 2),
    (error_burst, 2),
    (reset_burst, 2),
    (compact_etcd, 1),
    (kill_download, 2),
    (fill_cache, 1),
    (corrupt_cached_file, 1),
)


async def inject_faults(run: Run, *, duration: float, seed: int) -> None:
    """Every fault of the schedule at a moment drawn from `seed` within the churn, overlapping freely."""
    draw = random.Random(seed)
    plan = sorted(
        (draw.uniform(0.05, 0.8) * duration, fault) for fault, count in SCHEDULE for _ in range(count)
    )
    started = time.monotonic()

    async def at(offset: float, fault: Fault) -> None:
        await anyio.sleep(max(0.0, started + offset - time.monotonic()))
        say(f"fault: {fault.__name__}")
        try:
            await fault(run)
        except Exception as err:  # a fault that could not be injected is reported, not fatal
            say(f"fault {fault.__name__} could not be injected: {err!r}")
        run.last_fault_end = max(run.last_fault_end, time.monotonic())

    async with anyio.create_task_group() as tg:
        for offset, fault in plan:
            tg.start_soon(at, offset, fault)


async def run_download_pods(runner: PodRunner) -> None:
    """The stand-in kubelet with DOWNLOAD_SLOTS slots: each new download pod runs as soon as a slot is free."""
    seen: set[str] = set()
    slots = anyio.CapacityLimiter(DOWNLOAD_SLOTS)

    async def run_one(pod: dict[str, Any]) -> None:
        async with slots:
            with contextlib.suppress(
                KubeError, OSError, TimeoutError
            ):  # the Job's next pod is another chance
                await runner.run_pod(pod)

    async with anyio.create_task_group() as tg:
        while True:
            with contextlib.suppress(KubeError, OSError):
                for pod in (await runner.list_pods(label_selector=FETCH_SELECTOR)).items:
                    uid = pod["metadata"]["uid"]
                    if uid not in seen and not pod["metadata"].get("deletionTimestamp") and not _done(pod):
                        seen.add(uid)
                        tg.start_soon(run_one, pod)
            await anyio.sleep(0.3)


def _done(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


# -- convergence -------------------------------------------------------------------------------------------


async def snapshot(kube: KubeClient) -> Verdict:
    async def items(resource: Any, namespace: str | None = NAMESPACE) -> list[dict[str, Any]]:
        return list((await kube.list(resource, namespace=namespace)).items)

    return judge(
        services=await items(INFERENCE_SERVICES),
        models=await items(MODELS),
        deployments=await items(DEPLOYMENTS),
        kube_services=await items(SERVICES),
        nodes=await items(NODES, None),
        config=ControllerConfig(),
    )


def settled(verdict: Verdict) -> bool:
    return not (verdict.missing or verdict.stale or verdict.extra or verdict.waiting)


async def wait_converged(
    kube: KubeClient, *, since: float, within: float
) -> tuple[Verdict, dict[str, float]]:
    """Poll until everything has converged (or `within` seconds); each service's time from `since` to converging."""
    first_ok: dict[str, float] = {}
    verdict = None
    with anyio.move_on_after(within):
        while True:
            try:
                verdict = await snapshot(kube)
            except (KubeError, OSError):
                await anyio.sleep(POLL_SECONDS)
                continue
            now = time.monotonic() - since
            first_ok = {name: first_ok.get(name, now) for name in verdict.converged}
            if settled(verdict):
                break
            await anyio.sleep(POLL_SECONDS)
    if verdict is None:
        verdict = await snapshot(kube)
    return verdict, first_ok


# -- the run -------------------------------------------------------------------------------------------------


def proxy_kubeconfig(cluster: LocalCluster, url: str, path: Path) -> Path:
    pki = cluster.layout.pki
    return write_kubeconfig(path, server=url, ca=pki.ca.cert, client=pki.client(certs.ADMIN), user="admin")


async def chaos(cluster: LocalCluster, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    gguf = smollm2_gguf().read_bytes()
    sha256 = hashlib.sha256(gguf).hexdigest()
    runner_root = workdir / "node"
    cache = CacheVolume(runner_root / "claims" / CACHE_CLAIM, size_bytes=CACHE_VOLUME_BYTES)
    cache.mount()
    try:
        async with (
            KubeClient.connect(kubeconfig=cluster.kubeconfig) as kube,
            ThrottledSource(gguf, rate=SOURCE_RATE).running() as source,
            anyio.create_task_group() as tg,
        ):
            await kube.create(NAMESPACES, {"metadata": {"name": NAMESPACE}})
            pki = cluster.layout.pki
            proxy = FaultProxy(
                upstream=cluster.server, ca=pki.ca.cert, serving=pki.serving, admin=pki.client(certs.ADMIN),
                seed=args.seed,
            )  # fmt: skip
            url = await tg.start(proxy.serve)
            replicas = Replicas(
                kubeconfig=proxy_kubeconfig(cluster, url, workdir / "proxy.kubeconfig"),
                namespace=NAMESPACE,
                logs=workdir / "logs",
            )
            runner = PodRunner(
                kube, namespace=NAMESPACE, root=runner_root, service_account_kubeconfig=cluster.kubeconfig
            )
            churn = Churn(
                kube,
                namespace=NAMESPACE,
                services=args.services,
                models=max(1, args.services // 10),
                source_url=source.url,
                sources=CHURN_SOURCES,
                sha256=sha256,
                seed=args.seed,
            )
            run = Run(
                cluster=cluster, kube=kube, proxy=proxy, replicas=replicas, churn=churn, cache=cache,
                source=source, seed=args.seed,
            )  # fmt: skip
            try:
                replicas.start_all()
                tg.start_soon(replicas.supervise)
                tg.start_soon(replicas.sample_leaders, kube)
                tg.start_soon(run_download_pods, runner)
                say(f"creating {args.services} services over {len(churn.model_names)} Models")
                began = time.monotonic()
                await churn.create_all()
                verdict, _ = await wait_converged(kube, since=began, within=INITIAL_TIMEOUT)
                say(f"initial convergence in {time.monotonic() - began:.0f}s: {summary(verdict)}")
                say(f"churn and faults for {args.duration:g}s (load {load_average()})")
                with anyio.move_on_after(args.duration):
                    async with anyio.create_task_group() as chaos_tg:
                        chaos_tg.start_soon(lambda: churn.run(ops_per_second=args.ops_per_second))
                        await inject_faults(run, duration=args.duration, seed=args.seed)
                        await anyio.sleep_forever()
                await churn.restore_models()
                since = max(run.last_fault_end, time.monotonic())
                say(f"churn over; waiting for convergence (load {load_average()})")
                verdict, first_ok = await wait_converged(kube, since=since, within=CONVERGE_TIMEOUT)
                models = list((await kube.list(MODELS, namespace=NAMESPACE)).items)
                corrupt = await anyio.to_thread.run_sync(lambda: served_corruptions(models, cache.path))
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(replicas.stop_all)
                tg.cancel_scope.cancel()
        faults = run.faults + Counter(
            {f"proxy: {kind}": count for kind, count in proxy.injected.items() if "frozen" not in kind}
        )
        return {
            "faults": faults,
            "converge": first_ok,
            "verdict": verdict,
            "leaders": replicas.max_leaders_at_once,
            "lease holders": sorted(replicas.lease_holders),
            "corrupt": corrupt,
            "unexpected exits": replicas.unexpected_exits,
            "tracebacks": replicas.unhandled_exceptions(),
            "churn": churn.ops,
            "churn refused": churn.failed,
            "logs": workdir / "logs",
        }
    finally:
        cache.drain()
        cache.unmount()


def summary(verdict: Verdict) -> str:
    return (
        f"{len(verdict.converged)} converged, {len(verdict.missing)} missing, {len(verdict.stale)} stale, "
        f"{len(verdict.extra)} extra, {len(verdict.waiting)} waiting for their Model"
    )


def table(result: dict[str, Any], args: argparse.Namespace, wall: float) -> str:
    verdict: Verdict = result["verdict"]
    times = sorted(result["converge"].values()) or [float("nan")]
    crashes = sum(count for why, count in result["unexpected exits"].items() if why.startswith("crash"))
    faults = ", ".join(f"{kind} {count}" for kind, count in sorted(result["faults"].items())) or "none"
    rows = [
        ("faults injected", faults),
        ("converge after last fault", f"p50 {median(times):.1f} s, max {max(times):.1f} s"),
        ("children missing / extra / stale", f"{len(verdict.missing)} / {len(verdict.extra)} / {len(verdict.stale)}"),
        ("services not converged", f"{verdict.live - len(verdict.converged)} of {verdict.live}"),
        ("leaders at once (max)", f"{result['leaders']} (Lease held by {', '.join(result['lease holders'])})"),
        ("corrupt cache entries served", str(len(result["corrupt"]))),
        ("controller crashes", str(crashes)),
        ("exits on a lost lease (by design)", str(sum(result["unexpected exits"].values()) - crashes)),
        ("log records with a traceback", str(sum(result["tracebacks"].values()))),
        ("churn ops (refused)", f"{sum(result['churn'].values())} ({sum(result['churn refused'].values())})"),
        ("wall time, load average", f"{wall:.0f} s, {load_average()}"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'':<{width}} | seed {args.seed}, {args.services} services, {args.duration:g} s |"]
    lines.append(f"|{'-' * (width + 2)}|{'-' * 40}|")
    lines += [f"| {name:<{width}} | {value} |" for name, value in rows]
    return "\n".join(lines)


def details(result: dict[str, Any]) -> None:
    verdict: Verdict = result["verdict"]
    for label, items in (
        ("missing", verdict.missing),
        ("stale", verdict.stale),
        ("extra", verdict.extra),
        ("waiting", verdict.waiting),
        ("corrupt served", result["corrupt"]),
    ):
        if items:
            print(f"  {label}: {', '.join(list(items)[:10])}{' ...' if len(items) > 10 else ''}")
    for label in ("unexpected exits", "tracebacks"):
        for what, count in result[label].most_common():
            print(f"  {label}: {what} x{count}")
    print(f"  controller logs: {result['logs']}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--duration", type=float, default=240.0, help="seconds of churn under faults")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ops-per-second", type=float, default=2.0, help="churn rate")
    parser.add_argument("--keep-logs", action="store_true", help="keep the working directory with the logs")
    args = parser.parse_args()
    if args.services < 10 or args.duration < 60 or args.ops_per_second <= 0:
        parser.error("--services must be at least 10, --duration at least 60 and --ops-per-second positive")
    print(f"load average at start: {load_average()} ({os.cpu_count()} CPUs)", flush=True)
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="llmkube-chaos-"))
    nodes = [*DEFAULT_NODES, *(FakeNode(name=name, pods="10000") for name in BENCH_NODES)]
    say("starting the local cluster")
    with LocalCluster.start(nodes=nodes) as cluster:
        cluster.install_crds()
        result = anyio.run(chaos, cluster, workdir, args, backend="asyncio")
    print(table(result, args, time.monotonic() - began))
    details(result)
    if not args.keep_logs:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
