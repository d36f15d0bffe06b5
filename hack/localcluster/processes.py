"""Control-plane components as child processes that can never outlive the cluster.

Each component runs in its own session (so its own process group): stopping it signals the whole group, which
also reaches anything it spawned. Shutdown is SIGTERM, a grace period, then SIGKILL. Three nets catch the cases
where nobody calls `stop()`: an `atexit` hook for a normal interpreter exit, SIGTERM turned into
`KeyboardInterrupt` by the CLI, and `PR_SET_PDEATHSIG` so the kernel kills a child whose parent died by SIGKILL (SIGKILL, not
SIGTERM: a kube-apiserver shutting down gracefully hangs once etcd, killed at the same moment, is gone).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType

import attrs

_PR_SET_PDEATHSIG = 1
#: How long a SIGKILLed process may take to exit; only a process stuck in the kernel (I/O) takes any time.
_KILLED_EXIT_SECONDS = 5.0

# Every component started and not yet stopped, so the atexit hook can reach it; guarded by _live_lock.
_live: dict[int, ManagedProcess] = {}
_live_lock = threading.Lock()


def interrupt_on_termination() -> None:
    """Make SIGTERM and SIGINT raise `KeyboardInterrupt` in the main thread, so a program that starts
    components unwinds and stops them whichever of the two arrives.

    SIGINT is reset too: a non-interactive shell starts a background job with SIGINT ignored, and Python then
    keeps ignoring it, so Ctrl-C (or `kill -INT`) would otherwise do nothing.
    """

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)


class ProcessExitedError(RuntimeError):
    """A component exited while the cluster needed it; the message carries its log tail."""


@attrs.define(kw_only=True, eq=False)
class ManagedProcess:
    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    # The running child; None before start() and after stop().
    _popen: subprocess.Popen[bytes] | None = attrs.field(default=None, init=False)
    # Every process group this component ever ran in, so a caller can prove none survived.
    process_group_ids: list[int] = attrs.field(factory=list, init=False)

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    @property
    def returncode(self) -> int | None:
        """The exit status once the running child has exited; None while it runs (or was never started)."""
        return self._popen.poll() if self._popen else None

    def start(self) -> None:
        if self._popen is not None:
            raise RuntimeError(f"{self.name} is already running (pid {self._popen.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=None if self.env is None else dict(self.env),
                start_new_session=True,
                preexec_fn=_parent_death_signal(),
            )
        self.process_group_ids.append(self._popen.pid)
        with _live_lock:
            _live[self._popen.pid] = self

    def check_alive(self) -> None:
        """Raises with the log tail if the component died, so a start-up wait fails fast and says why."""
        if self._popen is None or self._popen.poll() is None:
            return
        raise ProcessExitedError(
            f"{self.name} exited with status {self._popen.returncode}; last lines of {self.log_path}:\n"
            f"{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, *, grace_seconds: float = 10.0) -> None:
        popen, self._popen = self._popen, None
        if popen is None:
            return
        pgid = popen.pid  # a session leader's group id is its pid
        _signal_group(pgid, signal.SIGTERM)
        try:
            popen.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            popen.wait()
        # The leader is gone; anything it left behind in its group gets no grace, and is gone when this returns:
        # a killed process still shows as running until the kernel has scheduled its exit.
        _signal_group(pgid, signal.SIGKILL)
        deadline = time.monotonic() + _KILLED_EXIT_SECONDS
        while surviving_processes([pgid]) and time.monotonic() < deadline:
            time.sleep(0.02)
        with _live_lock:
            _live.pop(popen.pid, None)


def surviving_processes(pgids: Sequence[int]) -> list[int]:
    """Pids of live (non-zombie) processes still in any of the given process groups."""
    wanted = set(pgids)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, pgrp, ...
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) in wanted and state != "Z":
            found.append(int(entry.name))
    return found


def stop_all_live() -> None:
    with _live_lock:
        live = list(_live.values())
    for process in live:
        process.stop(grace_seconds=5.0)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _parent_death_signal() -> Callable[[], None] | None:
    # PDEATHSIG fires when the parent *thread* exits, so only arm it for children of the main thread.
    if threading.current_thread() is not threading.main_thread() or not Path("/proc/self").exists():
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return arm


atexit.register(stop_all_live)
