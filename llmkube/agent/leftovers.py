"""The servers an earlier agent left running, and ending them before this one starts its own.

Why not adopt them: an adopted process is not our child, so its exit can only be polled, its logs go to a file
the old agent opened, and whether it still runs the arguments the spec asks for would have to be reverse-
engineered from its command line. Restarting costs one model load; adopting wrongly costs a server nobody
supervises, or two servers for one service. So each agent records the process ids of the servers it starts in
`<cache-dir>/.agent/servers.json` and, on start, stops every recorded process that still runs our llama-server
binary (SIGTERM, then SIGKILL after the grace period) before starting fresh ones. A recycled pid that now belongs
to another program is left alone, since its command line no longer names our binary.

Servers are started in their own session, so a process group is the server and anything it spawned.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path

import anyio
import attrs
import structlog

log = structlog.get_logger(__name__)

STATE_FILE = "servers.json"
_POLL = 0.1


@attrs.frozen(kw_only=True)
class ServerRecord:
    key: str
    pid: int
    binary: str


class ServerRegistry:
    """The state file: which pid serves which service. Written whole, atomically, on every change."""

    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / STATE_FILE
        self._records: dict[str, ServerRecord] = {}

    @property
    def path(self) -> Path:
        return self._path

    def recorded(self) -> list[ServerRecord]:
        """What the file says now (an earlier agent's servers, before `forget_all`)."""
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return []
        records = []
        for key, entry in (data.get("servers") or {}).items() if isinstance(data, dict) else ():
            with contextlib.suppress(KeyError, TypeError, ValueError):
                records.append(ServerRecord(key=key, pid=int(entry["pid"]), binary=str(entry["binary"])))
        return records

    def add(self, record: ServerRecord) -> None:
        self._records[record.key] = record
        self._write()

    def remove(self, key: str, pid: int) -> None:
        found = self._records.get(key)
        if found is not None and found.pid == pid:
            del self._records[key]
            self._write()

    def forget_all(self) -> None:
        self._records.clear()
        self._write()

    def _write(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        body = {"servers": {r.key: {"pid": r.pid, "binary": r.binary} for r in self._records.values()}}
        tmp = self._path.with_name(self._path.name + ".tmp")
        tmp.write_text(json.dumps(body, indent=1, sort_keys=True))
        os.replace(tmp, self._path)


def is_alive(pid: int) -> bool:
    """Running and not a zombie (a zombie still answers signal 0 until its parent reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        with contextlib.suppress(OSError):
            return stat.read_text().rpartition(")")[2].split()[0] != "Z"
    return True


async def command_line(pid: int) -> str | None:
    """The process's command line, from /proc on Linux and from ps elsewhere (macOS)."""
    if sys.platform.startswith("linux"):
        return _proc_command_line(pid)
    result = await anyio.run_process(["ps", "-o", "command=", "-p", str(pid)], check=False)
    text = result.stdout.decode(errors="replace").strip()
    return text or None


def _proc_command_line(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or None


async def stop_process_group(pid: int, *, grace: float) -> None:
    """SIGTERM the group, wait up to `grace`, then SIGKILL; returns once the leader is gone (or unkillable)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            log.warning("not allowed to signal leftover server", pid=pid)
            return
        with anyio.move_on_after(wait):
            while is_alive(pid):  # noqa: ASYNC110 - not our child: nothing to wait on but its pid
                await anyio.sleep(_POLL)
            return


async def stop_leftovers(registry: ServerRegistry, *, grace: float) -> list[ServerRecord]:
    """Stop the servers an earlier agent recorded and still running our binary; returns those stopped."""
    stopped = []
    for record in registry.recorded():
        if not is_alive(record.pid):
            continue
        line = await command_line(record.pid)
        if line is None or record.binary not in line:
            log.info("recorded pid now runs something else; left alone", pid=record.pid, service=record.key)
            continue
        log.info("stopping a server left by an earlier agent", pid=record.pid, service=record.key)
        await stop_process_group(record.pid, grace=grace)
        stopped.append(record)
    registry.forget_all()
    return stopped
