"""One llama-server for one InferenceService: fetch the model, start the server, probe it, restart it, stop it.

The supervisor is a task; cancelling it is how it is stopped (spec change, delete, agent shutdown), and its
`finally` stops the process under a shield: SIGTERM to the server's process group, SIGKILL after the grace. It
never touches the API: every state change is published as a `ServingState` through `on_change`, and the
reconciler turns the latest one into the HostServing condition, the EndpointSlice and Events. That keeps the
API writes level-based (one writer, from the current state) however fast a server flaps.

Health follows the kubelet's probe semantics for one container: a server has `startup_timeout` seconds to
answer `/health` with 200 (it answers 503 while the model loads); once it has, two failed probes in a row mark
it not ready (the EndpointSlice stops routing to it) and `failure_threshold` failures restart it. An exit or a
kill is followed by a restart after an exponential backoff (1 s doubling to 60 s by default), which starts over
once the server has gone `restart_backoff_reset` seconds without failing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import aiohttp
import anyio
import anyio.abc
import attrs
import structlog

from api.v1alpha1.fetch_result import FetchResult
from api.v1alpha1.gguf import GGUFInfo
from controller.builders.allocation_log import ServerAllocation, parse_allocation_log
from controller.builders.conditions import human_size
from controller.builders.llama_args import ReservedArgumentError
from controller.runtime.backoff import Backoff
from llmkube.agent.leftovers import ServerRecord, ServerRegistry
from llmkube.agent.model_fetch import UNSUPPORTED_SOURCE, FetchPlan, TokenRef, fetch_model
from llmkube.agent.options import AgentOptions
from llmkube.agent.ports import NoFreePort, PortAllocator
from llmkube.fetch.progress import Progress

log = structlog.get_logger(__name__)

DOWNLOADING = "Downloading"
FETCH_FAILED = "FetchFailed"
STARTING = "Starting"
SERVING = "Serving"
UNHEALTHY = "Unhealthy"
CRASHED = "Crashed"
SERVER_FAILED = "ServerFailed"

#: Failed probes in a row after which a started server stops receiving traffic.
NOT_READY_AFTER = 2
_LOG_TAIL_BYTES = 4096

#: (model path, GGUF facts, port) -> llama-server arguments (without the program).
ArgumentsFor = Callable[[str, GGUFInfo | None, int], list[str]]
TokenLookup = Callable[[TokenRef], Awaitable[str | None]]


@attrs.frozen(kw_only=True)
class ServingState:
    phase: str
    message: str = ""
    ready: bool = False
    port: int | None = None
    pid: int | None = None
    restarts: int = 0
    #: What the running llama-server allocated, from the buffer lines of its log; None until it is healthy.
    allocation: ServerAllocation | None = None


@attrs.frozen(kw_only=True)
class ServerPlan:
    """What one service asks of its server; a new fingerprint means a restart with the new plan."""

    fingerprint: str
    fetch: FetchPlan
    arguments: ArgumentsFor = attrs.field(eq=False)


@attrs.frozen(kw_only=True)
class Timing:
    startup_timeout: float
    health_interval: float
    failure_threshold: int
    stop_grace: float
    backoff_initial: float
    backoff_max: float
    backoff_reset: float

    @classmethod
    def from_options(cls, options: AgentOptions) -> Timing:
        return cls(
            startup_timeout=options.startup_timeout,
            health_interval=options.health_interval,
            failure_threshold=options.failure_threshold,
            stop_grace=options.stop_grace,
            backoff_initial=options.restart_backoff_initial,
            backoff_max=options.restart_backoff_max,
            backoff_reset=options.restart_backoff_reset,
        )


@attrs.frozen(kw_only=True)
class Environment:
    """What every supervisor of one agent shares."""

    binary: Path
    cache_dir: Path
    log_dir: Path
    probe_address: str
    ports: PortAllocator
    registry: ServerRegistry
    timing: Timing
    token_lookup: TokenLookup


class ServerSupervisor:
    def __init__(
        self, *, key: str, plan: ServerPlan, env: Environment, on_change: Callable[[ServingState], None]
    ) -> None:
        self.key = key
        self.plan = plan
        self._env = env
        self._on_change = on_change
        self._state = ServingState(phase=DOWNLOADING, message="waiting to fetch the model")
        self._port: int | None = None
        self._log = log.bind(service=key)

    @property
    def state(self) -> ServingState:
        return self._state

    @property
    def log_path(self) -> Path:
        return self._env.log_dir / (self.key.replace("/", "_") + ".log")

    async def run(self) -> None:
        """Serve until cancelled."""
        try:
            fetched = await self._fetch_until_done()
            await self._serve_forever(fetched)
        finally:
            if self._port is not None:
                self._env.ports.release(self._port)

    def _set(self, **changes: object) -> None:
        new = attrs.evolve(self._state, **changes)  # type: ignore[arg-type]
        if new == self._state:
            return
        if new.phase != self._state.phase:
            self._log.info("server state", phase=new.phase, message=new.message, port=new.port, pid=new.pid)
        self._state = new
        self._on_change(new)

    # -- the model ----------------------------------------------------------------------------------------------

    async def _fetch_until_done(self) -> FetchResult:
        timing = self._env.timing
        backoff = Backoff(
            initial=timing.backoff_initial, maximum=timing.backoff_max, jitter=0.2, reset_after=float("inf")
        )
        plan = self.plan.fetch
        while True:
            self._set(
                phase=DOWNLOADING, message=f"fetching the model into {plan.model_path(self._env.cache_dir)}"
            )
            token = await self._env.token_lookup(plan.token) if plan.token is not None else None
            result = await fetch_model(plan, token=token, on_progress=self._progress)
            if result.ok and result.path:
                return result
            failure = f"{result.reason}: {result.message}"
            if result.reason == UNSUPPORTED_SOURCE:
                self._set(phase=FETCH_FAILED, message=failure)
                await anyio.sleep_forever()
            delay = backoff.next_delay()
            self._set(phase=FETCH_FAILED, message=f"{failure} (retrying in {delay:.0f}s)")
            await anyio.sleep(delay)

    async def _progress(self, progress: Progress) -> None:
        if progress.done:
            return
        total = f" of {human_size(progress.bytes_total)}" if progress.bytes_total else ""
        percent = f"{progress.percent:.0f}% " if progress.percent is not None else ""
        self._set(
            phase=DOWNLOADING,
            message=f"downloading the model: {percent}{human_size(progress.bytes_done)}{total}",
        )

    # -- the server ---------------------------------------------------------------------------------------------

    async def _serve_forever(self, fetched: FetchResult) -> None:
        timing = self._env.timing
        backoff = Backoff(
            initial=timing.backoff_initial,
            maximum=timing.backoff_max,
            jitter=0.0,
            reset_after=timing.backoff_reset,
        )
        model_path = str(fetched.path)
        restarts = 0
        while True:
            try:
                self._port = self._env.ports.acquire(keep=self._port)
                args = self.plan.arguments(model_path, fetched.gguf, self._port)
            except ReservedArgumentError as exc:
                self._set(phase=SERVER_FAILED, message=str(exc), ready=False)
                await anyio.sleep_forever()
            except NoFreePort as exc:
                outcome = str(exc)
            else:
                outcome = await self._run_once(args, port=self._port)
            restarts += 1
            delay = backoff.next_delay()
            self._set(
                phase=CRASHED,
                message=f"{outcome}; restart {restarts} in {delay:.0f}s",
                ready=False,
                pid=None,
                restarts=restarts,
            )
            await anyio.sleep(delay)

    async def _run_once(self, args: list[str], *, port: int) -> str:
        """Run the server until it exits or fails its probes; returns what happened, for the status message."""
        command = [str(self._env.binary), *args]
        log_file = _open_log(self.log_path, command)
        try:
            process = await anyio.open_process(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: stopping it cannot leave children behind
            )
        except OSError as exc:
            log_file.close()
            return f"cannot start {self._env.binary}: {exc}"
        registry = self._env.registry
        registry.add(ServerRecord(key=self.key, pid=process.pid, binary=str(self._env.binary)))
        verdict: list[str] = []
        try:
            self._set(
                phase=STARTING,
                message=f"llama-server (pid {process.pid}) is loading the model on port {port}",
                ready=False,
                allocation=None,
                port=port,
                pid=process.pid,
            )
            async with anyio.create_task_group() as tg:

                async def watch_exit() -> None:
                    await process.wait()
                    tg.cancel_scope.cancel()

                tg.start_soon(watch_exit)
                verdict.append(await self._probe(port))
                tg.cancel_scope.cancel()
            if process.returncode is not None:
                return f"llama-server exited with {_describe_exit(process.returncode)}{_tail(self.log_path)}"
            return verdict[0]
        finally:
            with anyio.CancelScope(shield=True):
                await stop_child(process, grace=self._env.timing.stop_grace)
                registry.remove(self.key, process.pid)
                log_file.close()

    async def _probe(self, port: int) -> str:
        """Probe /health until the server should be killed; returns why."""
        timing = self._env.timing
        url = f"http://{_url_host(self._env.probe_address)}:{port}/health"
        started = anyio.current_time()
        healthy_once = False
        failures = 0
        timeout = aiohttp.ClientTimeout(total=max(1.0, min(5.0, timing.health_interval * 2)))
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if await _answers_ok(session, url):
                    failures = 0
                    if not healthy_once:
                        # By its first healthy answer the server has logged every buffer of the load.
                        self._set(allocation=_allocation_in(self.log_path))
                    healthy_once = True
                    self._set(
                        phase=SERVING, message=f"llama-server (pid {self._state.pid}) healthy", ready=True
                    )
                elif not healthy_once:
                    if anyio.current_time() - started > timing.startup_timeout:
                        return f"llama-server not healthy {timing.startup_timeout:.0f}s after start"
                else:
                    failures += 1
                    if failures >= timing.failure_threshold:
                        return f"llama-server failed {failures} health checks in a row"
                    if failures >= NOT_READY_AFTER:
                        self._set(
                            phase=UNHEALTHY, message=f"{failures} failed health checks in a row", ready=False
                        )
                await anyio.sleep(timing.health_interval)


def _allocation_in(log_path: Path) -> ServerAllocation | None:
    try:
        with log_path.open(encoding="utf-8", errors="replace") as lines:
            return parse_allocation_log(lines)
    except OSError:
        return None


async def _answers_ok(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url) as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False


async def stop_child(process: anyio.abc.Process, *, grace: float) -> None:
    """SIGTERM the server's group, SIGKILL it after `grace` seconds; returns once the server is reaped."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with anyio.move_on_after(grace):
            await process.wait()
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


def _open_log(path: Path, command: list[str]) -> IO[bytes]:
    """The server's output goes to a file: nobody reads a pipe while it runs, and a full pipe would stall it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "ab")  # noqa: SIM115 - the process writes to it for as long as it runs
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    handle.write(f"--- {stamp} starting: {' '.join(command)}\n".encode())
    handle.flush()
    return handle


def _tail(path: Path) -> str:
    """The last line the server wrote, which is where llama.cpp says why it gave up."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
            lines = [line.strip() for line in handle.read().decode(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line and not line.startswith("---")]
    return f": {lines[-1][:300]}" if lines else ""


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address
