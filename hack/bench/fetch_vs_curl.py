"""Benchmark: `llmkube fetch` against `curl -o` for a 1 GiB GGUF served from 127.0.0.1.

Not a test. Both clients download the same file from the same local aiohttp server (sendfile), into the same
filesystem, three times each, alternating; the script prints the medians and their ratio. The fetch does strictly
more work than curl (sha256 while streaming, fsync of file and directory, GGUF header parse, result JSON, Python
start-up), so the ratio is the cost of those guarantees; the target is within 10% of curl. Because curl leaves
its bytes in the page cache, `curl -o` followed by `sync FILE` is timed too: that is the like-for-like durable copy.
`--work-dir /dev/shm` takes the disk out of the comparison and leaves only the software overhead.

Over loopback the server, the client, the hashing and the writes all compete for the same cores, so the fetch's
extra CPU work shows up fully; `--rate-mib N` paces the server to N MiB/s, like a network link, which is where
hashing and writing can overlap with receiving.

    .venv/bin/python hack/bench/fetch_vs_curl.py [--size-mib 1024] [--runs 3] [--work-dir DIR] [--rate-mib N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gguf
import numpy as np

SERVER = """
import asyncio, os, sys, time
from aiohttp import web
path, rate = sys.argv[1], float(sys.argv[3]) * 2**20
async def serve(request):
    if not rate:
        return web.FileResponse(path)
    size = os.path.getsize(path)
    response = web.StreamResponse(headers={"Content-Length": str(size)})
    await response.prepare(request)
    start, sent = time.monotonic(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            await response.write(chunk)
            sent += len(chunk)
            ahead = sent / rate - (time.monotonic() - start)
            if ahead > 0:
                await asyncio.sleep(ahead)
    await response.write_eof()
    return response
app = web.Application()
app.router.add_get("/{name}", serve)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), print=lambda *a: print("ready", flush=True))
"""


def make_gguf(path: Path, size_mib: int) -> None:
    """A valid GGUF whose bulk is one int8 tensor, so the fetch's header checks pass as for a real model."""
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("bench")
    writer.add_tensor(
        "blob", np.random.default_rng(0).integers(-128, 127, size=size_mib << 20, dtype=np.int8)
    )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work-dir", help="filesystem to download into (default: the system temp dir)")
    parser.add_argument("--rate-mib", type=float, default=0, help="pace the server to this many MiB/s")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="llmkube-bench-", dir=args.work_dir))
    try:
        source = work / "bench.gguf"
        make_gguf(source, args.size_mib)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(source), str(port), str(args.rate_mib)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            assert server.stdout.readline().strip() == "ready"
            url = f"http://127.0.0.1:{port}/bench.gguf"
            curl: list[float] = []
            durable: list[float] = []
            fetch: list[float] = []
            for run in range(args.runs):
                out = work / f"curl-{run}.gguf"
                curl.append(timed(["curl", "-sS", "--fail", "-o", str(out), url]))
                out.unlink()
                subprocess.run(["sync"], check=True)  # earlier runs' dirty pages must not slow the next one
                durable.append(timed(["sh", "-c", f"curl -sS --fail -o {out} {url} && sync {out}"]))
                out.unlink()
                subprocess.run(["sync"], check=True)
                cache = work / f"cache-{run}"
                fetch.append(
                    timed([sys.executable, "-m", "llmkube.fetch", "--url", url, "--cache-dir", str(cache)])
                )
                shutil.rmtree(cache)
                subprocess.run(["sync"], check=True)
        finally:
            server.terminate()
            server.wait()
        size = source.stat().st_size
        pace = f", server paced to {args.rate_mib:g} MiB/s" if args.rate_mib else ""
        print(f"file: {size / 2**30:.2f} GiB in {work.parent}, runs: {args.runs}{pace}")
        for name, runs in (("curl -o", curl), ("curl -o + sync", durable), ("llmkube fetch", fetch)):
            m = statistics.median(runs)
            print(
                f"{name:15} median {m:.2f} s ({size / m / 2**20:.0f} MiB/s)  runs {[round(x, 2) for x in runs]}"
            )
        f = statistics.median(fetch)
        print(f"ratio fetch/curl: {f / statistics.median(curl):.2f}")
        print(f"ratio fetch/(curl + sync): {f / statistics.median(durable):.2f}")
    finally:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
