"""What both ways of running the main job share: the progress clock, the model's HTTP source, the `llmkube`
CLI as a user runs it, the local processes a demo starts, and the route `llmkube chat` reports."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from aiohttp import web

from hack.localcluster.base import ClusterBase

BIN = Path(sys.executable).parent
NAMESPACE = "llmkube-demo"
NAME = "smollm2-135m"
DEFAULT_QUESTION = "In one short sentence: what is Kubernetes?"
#: The line `llmkube chat` writes on stderr about how it reached the server.
CHAT_ROUTE = re.compile(r"^Using (?P<url>\S+) \(via (?P<via>.+)\)$", re.MULTILINE)
ANSI_STYLE = re.compile(r"\x1b\[[0-9;]*m")  # should FORCE_COLOR style the CLI's notices even in a pipe

_started = time.monotonic()


def elapsed() -> float:
    """Seconds since the demo started (the clock every progress line and step time is read from)."""
    return time.monotonic() - _started


def say(message: str) -> None:
    print(f"[{elapsed():6.1f}s] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Steps:
    """When each step of the demo finished, in seconds since the start; printed as it goes and at the end."""

    def __init__(self) -> None:
        self.done: dict[str, float] = {}

    def mark(self, step: str, detail: str = "") -> None:
        self.done[step] = round(elapsed(), 1)
        say(f"{step}{': ' + detail if detail else ''}")

    def table(self) -> list[str]:
        lines, previous = [], 0.0
        for step, at in self.done.items():
            lines.append(f"  {step:<22} {at:6.1f} s  (+{at - previous:.1f} s)")
            previous = at
        return lines


class Processes:
    """The long-running programs the demo starts; each in its own session, so teardown reaches its children."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        self._logs.mkdir(parents=True, exist_ok=True)
        log = (self._logs / f"{name}.log").open("wb")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._running.append((name, process))
        return process

    def check_alive(self) -> None:
        for name, process in self._running:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}; see {self._logs / (name + '.log')}"
                )

    def stop_all(self, *, grace: float = 20.0) -> None:
        for _, process in reversed(self._running):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, process in reversed(self._running):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in {grace:g}s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # leftovers in its session (a server it started)
            process.wait()
        self._running.clear()


async def serve_file(
    path: Path,
    *,
    address: str = "127.0.0.1",
    requests: list[str] | None = None,
    task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """The model's HTTP source: one file on `address`, with Range support (resumable downloads). The client
    address of each request is appended to `requests`, so the demo can say who downloaded it."""

    async def model_file(request: web.Request) -> web.StreamResponse:
        if requests is not None:
            requests.append(request.remote or "")
        return web.FileResponse(path)

    app = web.Application()
    app.router.add_get(f"/{path.name}", model_file)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, address, 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        task_status.started(f"http://{address}:{port}/{path.name}")
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await runner.cleanup()


async def llmkube(*args: str, kubeconfig: Path, namespace: str = NAMESPACE) -> tuple[str, str]:
    """Run the CLI as a user would; (stdout, stderr). Cancelled (and killed) with the demo if anything else
    fails."""
    done = await anyio.run_process(
        [str(BIN / "llmkube"), *args, "--kubeconfig", str(kubeconfig), "--namespace", namespace], check=False
    )
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    if done.returncode != 0:
        raise RuntimeError(f"llmkube {args[0]} failed ({done.returncode}): {stderr.strip() or stdout}")
    return stdout, stderr


def chat_route(stderr: str) -> dict[str, str] | None:
    """How `llmkube chat` reached the server ({"url", "via"}), from the line it printed on stderr."""
    match = CHAT_ROUTE.search(ANSI_STYLE.sub("", stderr))
    return {"url": match["url"], "via": match["via"]} if match else None


def get_json(cluster: ClusterBase, kind: str, name: str = NAME, namespace: str = NAMESPACE) -> dict[str, Any]:
    out = cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout
    parsed: dict[str, Any] = json.loads(out)
    return parsed
