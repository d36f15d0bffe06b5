"""kube-apiserver's audit log: every write request, who sent it and with which User-Agent, as JSON lines.

Tests use it to measure what a program sent to the API server rather than what the program says it sent (a
client-side counter misses requests that bypass it). The policy keeps the file small: reads (get, list, watch)
are not recorded at all, writes at level Metadata (user, User-Agent, verb, object reference, response code; no
bodies), one event per request (the RequestReceived stage is omitted, ResponseComplete remains).

The log lives in the cluster's state directory, `logs/kube-apiserver-audit.log`, next to the components' logs,
so a reused cluster started by `python -m hack.localcluster up` finds it from the admin kubeconfig's directory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

#: The verbs the policy records; everything else is level None.
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")

#: Relative to the state directory.
POLICY_FILE = Path("audit-policy.json")
LOG_FILE = Path("logs") / "kube-apiserver-audit.log"

#: Rotation: the shared cluster of a long session writes a few MB an hour (node heartbeats are writes).
MAX_SIZE_MB = 100
MAX_BACKUPS = 1

POLICY: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "verbs": ["get", "list", "watch"]},
        {"level": "Metadata", "verbs": list(WRITE_VERBS)},
    ],
}


class AuditLogUnavailableError(RuntimeError):
    """The cluster writes no audit log this process can read (started before audit logging, or not local)."""


def write_policy(state_dir: Path) -> Path:
    path = state_dir / POLICY_FILE
    path.write_text(json.dumps(POLICY, indent=2) + "\n")
    return path


def apiserver_flags(state_dir: Path) -> list[str]:
    return [
        f"--audit-policy-file={state_dir / POLICY_FILE}",
        f"--audit-log-path={state_dir / LOG_FILE}",
        "--audit-log-format=json",
        # Each event is written before the response is sent, so a request that returned is already in the file.
        "--audit-log-mode=blocking",
        f"--audit-log-maxsize={MAX_SIZE_MB}",
        f"--audit-log-maxbackup={MAX_BACKUPS}",
    ]


def read_events(
    log: Path, *, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """The events of `log` and its rotated backups, oldest first, received within [since, until].

    `since`/`until` must be timezone-aware. A line the server is still writing is skipped.
    """
    events = []
    for line in _lines(log):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        received = datetime.fromisoformat(event["requestReceivedTimestamp"])
        if (since is None or received >= since) and (until is None or received <= until):
            events.append(event)
    return events


def _lines(log: Path) -> Iterator[str]:
    # Rotated files are named `<stem>-<timestamp><suffix>`; their timestamps sort in time order.
    backups = sorted(log.parent.glob(f"{log.stem}-*{log.suffix}"))
    for path in [*backups, log]:
        if path.exists():
            with path.open(encoding="utf-8") as stream:
                yield from stream
