"""Benchmark: what the gateway adds to streamed chat completions, against going to llama-server directly.

Not a test. One real llama-server (SmolLM2-135M, `--parallel` = streams, the operator's flags) is asked the same
way directly and through `llmkube-gateway`'s proxy running in its own process (as it runs in a pod).
`--arrivals` picks how the `--streams` concurrent clients send (hack.bench.gateway_client):

- `twins` (the added TTFT): every request is sent directly and through the gateway at the same instant and the
  two answers' times to the first token are compared, pair by pair (the server serves twice `--streams`).
  Reported: the added TTFT p50, p90 and mean over every pair, and the p50 of each round.
- `steady` (the throughput): the two sides take turns, `--phase-seconds` each, the order alternating every
  round so drift in the machine's load falls on both; requests arrive one by one as concurrent users' do.
  Reported: medians over the rounds of each side's TTFT p50 and throughput (completion tokens / wall time,
  and with every stream busy: each request's tokens over its own time, times the streams, which does not
  move with the tail of a phase), their difference and ratios, and the gateway's own time per request (the client's time to the first byte
  minus the queue and upstream times of the gateway's `Server-Timing` header; p50 and p90). The difference
  of two sides' TTFT moves by tens of milliseconds between rounds with which prompts llama-server batches
  together, which is why the added TTFT comes from twins.
- `burst`: the sides take turns as in `steady`, but all streams send at the same instant, `--requests` times in
  step: the worst case for one event loop.

Targets: added TTFT p50 <= 2 ms, throughput >= 0.95x, at 16 streams. Also printed: the machine, its load
average before and after, and the gateway process's CPU time per request.

`--upstream stepped` asks a stand-in instead (hack/bench/stepped_server.py) that sends the first token the moment
a request arrives and the rest on a common clock of decoding steps: llama-server's first tokens wait for a step,
which hides whatever the gateway adds before the request reaches it; against the stand-in all of it shows.

The gateway runs on the event loop the gateway program runs on (uvloop where installed). On a machine with few
cores, llama-server's compute threads take every core while a batch runs and the gateway waits for CPU time it
would have in a cluster (its own pod, a GPU doing the model's work): `--server-threads 1` leaves a core free.

The gateway's route table is filled by hand instead of by informers (no cluster is needed): informers are off
the request path, so what is measured is exactly what a request goes through.

    .venv/bin/python -m hack.bench.gateway [--arrivals twins|steady|burst] [--rounds 7] [--streams 16]
        [--phase-seconds 20] [--requests 2] [--max-tokens 64] [--server-threads N] [--upstream llama|stepped]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import attrs

from hack.bench.gateway_client import Side, TwinRun, burst, chat_body, steady, twins
from hack.llama_fixture import free_loopback_port, running_llama_server

REPO = Path(__file__).resolve().parents[2]

MODEL = "bench"
PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."
PER_SLOT_CONTEXT = 512


def machine() -> str:
    """Cores, CPU model and memory: what the figures were measured on."""
    model = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    return f"{os.cpu_count()} cores, {model}{memory}"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@attrs.frozen(kw_only=True)
class RunningGateway:
    url: str
    pid: int


@contextlib.contextmanager
def gateway_process(upstream: str, *, slots: int) -> Iterator[RunningGateway]:
    port = free_loopback_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hack.bench.gateway",
            "serve",
            "--upstream",
            upstream,
            "--port",
            str(port),
            "--slots",
            str(slots),
        ],
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/v1/models", timeout=2) as response:
                    if MODEL in response.read().decode():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the gateway did not come up")
            time.sleep(0.2)
        yield RunningGateway(url=url, pid=process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextlib.contextmanager
def upstream_server(args: argparse.Namespace, *, server_args: tuple[str, ...]) -> Iterator[str]:
    """The server both sides ask: llama-server, or the stepped stand-in (`hack.bench.stepped_server`)."""
    if args.upstream == "llama":
        with running_llama_server(extra_args=server_args) as url:
            yield url
        return
    port = free_loopback_port()
    command = [
        sys.executable,
        "-m",
        "hack.bench.stepped_server",
        "--port",
        str(port),
        "--step",
        str(args.step),
    ]
    process = subprocess.Popen(command, cwd=REPO)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the stepped server did not come up")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def serve(upstream: str, *, port: int, slots: int) -> None:
    """The gateway's proxy with one static route; what a gateway pod runs, minus the informers."""
    import aiohttp
    from prometheus_client import CollectorRegistry

    from llmkube.gateway.event_loop import backend_options
    from llmkube.gateway.keys import NoKeys
    from llmkube.gateway.metrics import GatewayMetrics
    from llmkube.gateway.options import GatewayOptions
    from llmkube.gateway.proxy import Proxy
    from llmkube.gateway.routes import Route, Upstream
    from llmkube.gateway.server import ApiServer
    from llmkube.gateway.table import RouteTable, ServiceState

    host, _, upstream_port = upstream.removeprefix("http://").rpartition(":")
    route = Route(
        namespace="bench",
        name=MODEL,
        phase="Ready",
        replicas=1,
        slots=slots,
        ready=(Upstream(host=host, port=int(upstream_port)),),
        loading=0,
        idle_seconds=None,
        last_request=None,
        resource_version="1",
        created=None,
    )

    async def never_wake(state: ServiceState) -> None:
        raise RuntimeError("the benchmark's service never sleeps")

    async def run() -> None:
        options = GatewayOptions(host="127.0.0.1", port=port)
        metrics = GatewayMetrics(CollectorRegistry())
        table = RouteTable(queue_limit=options.queue_size, metrics=metrics)
        table.refresh(route.key, route)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
            proxy = Proxy(
                table=table,
                wake=never_wake,
                metrics=metrics,
                options=options,
                session=session,
                synced=lambda: True,
                keys=NoKeys(),
            )
            await ApiServer(proxy.application(), host="127.0.0.1", port=port).run()

    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(run, backend="asyncio", backend_options=backend_options())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    serving = sub.add_parser("serve", help="(internal) run the gateway's proxy with one static route")
    serving.add_argument("--upstream", required=True)
    serving.add_argument("--port", type=int, required=True)
    serving.add_argument("--slots", type=int, required=True)
    parser.add_argument("--arrivals", choices=["steady", "burst", "twins"], default="steady")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--phase-seconds", type=float, default=20.0, help="steady: how long each side of a round runs"
    )
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2, help="burst: requests per stream and round")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument(
        "--think-seconds",
        type=float,
        default=0.0,
        help="steady: each stream waits a random 0..N s before each request (the same waits on both sides)",
    )
    parser.add_argument(
        "--server-threads",
        type=int,
        default=0,
        help="llama-server's --threads and --threads-batch (default: its own choice, every core); 1 leaves the "
        "other core to the clients and the gateway, as a GPU node leaves its CPUs to the gateway's pod",
    )
    parser.add_argument(
        "--upstream",
        choices=["llama", "stepped"],
        default="llama",
        help="llama-server, or a stand-in that sends the first token at once and the rest in --step "
        "decoding steps (hack/bench/stepped_server.py), so the gateway's whole delay shows",
    )
    parser.add_argument("--step", type=float, default=0.09, help="stepped: seconds per decoding step")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON as well")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.upstream, port=args.port, slots=args.slots)
        return 0

    # Twins: every stream's request is asked directly and through the gateway at once.
    slots = args.streams * (2 if args.arrivals == "twins" else 1)
    server_args: tuple[str, ...] = (
        "--metrics",
        "--alias",
        MODEL,
        "--parallel",
        str(slots),
        "--ctx-size",
        str(slots * PER_SLOT_CONTEXT),
        "--cache-ram",
        "0",
    )
    if args.server_threads:
        threads = str(args.server_threads)
        server_args += ("--threads", threads, "--threads-batch", threads)
    print(f"machine: {machine()}; load average before: {load_average()}", flush=True)
    body = chat_body(model=MODEL, prompt=PROMPT, max_tokens=args.max_tokens)
    gateway_cpu = 0.0
    with (
        upstream_server(args, server_args=server_args) as direct,
        gateway_process(direct, slots=args.streams) as gw,
    ):
        targets = {"direct": direct, "gateway": gw.url}

        def warm(name: str) -> Side:
            return anyio.run(lambda: burst(targets[name], body, streams=args.streams, requests=1))

        # Warm-up: load the model's pages, fill the prompt cache, open the paths; and time one request.
        request_s = statistics.median(s.duration_s for name in targets for s in warm(name).samples)
        if args.arrivals == "twins":
            runs = measure_twins(args, direct=direct, gateway=gw, body=body, request_s=request_s)
            return report_twins(runs, args=args, request_s=request_s)

        def measure(name: str, round_: int) -> Side:
            if args.arrivals == "burst":
                return anyio.run(
                    lambda: burst(targets[name], body, streams=args.streams, requests=args.requests)
                )
            return anyio.run(
                lambda: steady(
                    targets[name],
                    body,
                    streams=args.streams,
                    seconds=args.phase_seconds,
                    request_s=request_s,
                    think_s=args.think_seconds,
                    seed=round_,
                )
            )

        results: dict[str, list[Side]] = {"direct": [], "gateway": []}
        for round_ in range(args.rounds):
            order = ["direct", "gateway"] if round_ % 2 == 0 else ["gateway", "direct"]
            for name in order:
                used = cpu_seconds(gw.pid)
                side = measure(name, round_)
                if name == "gateway":
                    gateway_cpu += cpu_seconds(gw.pid) - used
                results[name].append(side)
                print(
                    f"round {round_ + 1} {name:8s} TTFT p50 {side.ttft_p50_ms:7.1f} ms  "
                    f"{side.tokens_per_s:7.1f} tok/s (busy {side.busy_tokens_per_s:6.1f})  "
                    f"({len(side.samples)} ok, {side.errors} failed)",
                    flush=True,
                )
    summary = summarize(results, args=args, gateway_cpu=gateway_cpu, request_s=request_s)
    print(
        f"\n{args.arrivals} arrivals, medians over {args.rounds} rounds at {args.streams} streams: "
        f"TTFT p50 direct {summary['direct']['ttft_p50_ms']:.1f} ms, "
        f"gateway {summary['gateway']['ttft_p50_ms']:.1f} ms "
        f"(added {summary['added_ttft_p50_ms']:+.1f} ms; paired per round "
        f"{summary['added_ttft_p50_ms_paired_median']:+.1f} ms); gateway's own time to first byte p50 "
        f"{summary['gateway_own_ms_p50']:.2f} ms, p90 {summary['gateway_own_ms_p90']:.2f} ms over "
        f"{summary['gateway_requests']} requests; throughput direct {summary['direct']['tokens_per_s']:.1f} "
        f"tok/s, gateway {summary['gateway']['tokens_per_s']:.1f} tok/s (ratio {summary['throughput_ratio']:.3f}; "
        f"with every stream busy {summary['busy_throughput_ratio']:.3f}, paired per round "
        f"{summary['busy_throughput_ratio_paired_median']:.3f}); "
        f"gateway CPU {summary['gateway_cpu_ms_per_request']:.2f} ms per request; "
        f"load average after: {summary['load_average_after']}"
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0 if summary["errors"] == 0 else 1


def measure_twins(
    args: argparse.Namespace, *, direct: str, gateway: RunningGateway, body: bytes, request_s: float
) -> list[tuple[TwinRun, float]]:
    """Each round's twins and the gateway's CPU seconds during it."""
    runs: list[tuple[TwinRun, float]] = []
    for round_ in range(args.rounds):
        used = cpu_seconds(gateway.pid)
        run = anyio.run(
            lambda: twins(
                direct,
                gateway.url,
                body,
                streams=args.streams,
                seconds=args.phase_seconds,
                request_s=request_s,
            )
        )
        runs.append((run, cpu_seconds(gateway.pid) - used))
        first_byte = sorted(t.added_first_byte_ms for t in run.twins)
        first_token = sorted(ms for t in run.twins if (ms := t.added_first_token_ms) is not None)
        print(
            f"round {round_ + 1} twins: {len(run.twins)} pairs ({run.errors} failed); added first byte p50 "
            f"{quantile(first_byte, 0.5):+.2f} ms, first token p50 {quantile(first_token, 0.5):+.2f} ms",
            flush=True,
        )
    return runs


def report_twins(runs: list[tuple[TwinRun, float]], *, args: argparse.Namespace, request_s: float) -> int:
    pairs = [t for run, _ in runs for t in run.twins]
    first_byte = sorted(t.added_first_byte_ms for t in pairs)
    first_token = sorted(ms for t in pairs if (ms := t.added_first_token_ms) is not None)
    direct_ttft = sorted(s * 1000 for t in pairs if (s := t.direct.first_token_s) is not None)
    per_round = [
        quantile(sorted(ms for t in run.twins if (ms := t.added_first_token_ms) is not None), 0.5)
        for run, _ in runs
    ]
    errors = sum(run.errors for run, _ in runs)
    cpu = sum(used for _, used in runs)
    summary: dict[str, Any] = {
        **run_facts(args, request_s=request_s),
        "pairs": len(pairs),
        "direct_ttft_p50_ms": round(quantile(direct_ttft, 0.5), 2),
        "added_ttft_p50_ms": round(quantile(first_token, 0.5), 3),
        "added_ttft_p90_ms": round(quantile(first_token, 0.9), 3),
        "added_ttft_mean_ms": round(statistics.fmean(first_token), 3) if first_token else math.nan,
        "added_ttft_p50_ms_per_round": [round(ms, 3) for ms in per_round],
        "added_first_byte_p50_ms": round(quantile(first_byte, 0.5), 3),
        "added_first_byte_p90_ms": round(quantile(first_byte, 0.9), 3),
        "gateway_cpu_ms_per_request": round(cpu / max(1, len(pairs)) * 1000, 2),
        "errors": errors,
    }
    print(
        f"\ntwins, {len(pairs)} pairs over {args.rounds} rounds at {args.streams} streams through the gateway "
        f"(and {args.streams} direct): added TTFT p50 {summary['added_ttft_p50_ms']:+.2f} ms "
        f"(p90 {summary['added_ttft_p90_ms']:+.2f}, mean {summary['added_ttft_mean_ms']:+.2f}; per round "
        f"{', '.join(f'{ms:+.2f}' for ms in per_round)}), added first byte p50 "
        f"{summary['added_first_byte_p50_ms']:+.2f} ms (p90 {summary['added_first_byte_p90_ms']:+.2f}); "
        f"direct TTFT p50 {summary['direct_ttft_p50_ms']:.1f} ms; gateway CPU "
        f"{summary['gateway_cpu_ms_per_request']:.2f} ms per request; load average after: "
        f"{summary['load_average_after']}"
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0 if errors == 0 else 1


def run_facts(args: argparse.Namespace, *, request_s: float) -> dict[str, Any]:
    """What a run was measured on and with, at the head of every report."""
    return {
        "machine": machine(),
        "load_average_after": load_average(),
        "upstream": args.upstream,
        "arrivals": args.arrivals,
        "streams": args.streams,
        "rounds": args.rounds,
        "phase_seconds": args.phase_seconds,
        "think_seconds": args.think_seconds,
        "request_seconds_warm": round(request_s, 3),
        "max_tokens": args.max_tokens,
    }


def summarize(
    results: dict[str, list[Side]], *, args: argparse.Namespace, gateway_cpu: float, request_s: float
) -> dict[str, Any]:
    direct_ttft = statistics.median(s.ttft_p50_ms for s in results["direct"])
    gateway_ttft = statistics.median(s.ttft_p50_ms for s in results["gateway"])
    direct_tput = statistics.median(s.tokens_per_s for s in results["direct"])
    gateway_tput = statistics.median(s.tokens_per_s for s in results["gateway"])
    direct_busy = statistics.median(s.busy_tokens_per_s for s in results["direct"])
    gateway_busy = statistics.median(s.busy_tokens_per_s for s in results["gateway"])
    busy_paired = statistics.median(
        g.busy_tokens_per_s / d.busy_tokens_per_s
        for d, g in zip(results["direct"], results["gateway"], strict=True)
        if d.busy_tokens_per_s > 0
    )
    paired = statistics.median(
        g.ttft_p50_ms - d.ttft_p50_ms for d, g in zip(results["direct"], results["gateway"], strict=True)
    )
    own = sorted(
        ms for side in results["gateway"] for s in side.samples if (ms := s.gateway_own_ms) is not None
    )
    gateway_requests = sum(len(s.samples) + s.errors for s in results["gateway"])
    return {
        **run_facts(args, request_s=request_s),
        "direct": {"ttft_p50_ms": round(direct_ttft, 2), "tokens_per_s": round(direct_tput, 1)},
        "gateway": {"ttft_p50_ms": round(gateway_ttft, 2), "tokens_per_s": round(gateway_tput, 1)},
        "added_ttft_p50_ms": round(gateway_ttft - direct_ttft, 2),
        "added_ttft_p50_ms_paired_median": round(paired, 2),
        "gateway_own_ms_p50": round(quantile(own, 0.5), 3),
        "gateway_own_ms_p90": round(quantile(own, 0.9), 3),
        "gateway_requests": gateway_requests,
        "throughput_ratio": round(gateway_tput / direct_tput, 3),
        "busy_tokens_per_s": {"direct": round(direct_busy, 1), "gateway": round(gateway_busy, 1)},
        "busy_throughput_ratio": round(gateway_busy / direct_busy, 3),
        "busy_throughput_ratio_paired_median": round(busy_paired, 3),
        "gateway_cpu_ms_per_request": round(gateway_cpu / max(1, gateway_requests) * 1000, 2),
        "errors": sum(s.errors for side in results.values() for s in side),
    }


def quantile(ordered: list[float], q: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


if __name__ == "__main__":
    raise SystemExit(main())
