"""Where a burst's time went, read from the API server's audit log (not a test; a companion of isvc_scale).

    .venv/bin/python -m hack.bench.burst_timeline --kubeconfig "$KUBECONFIG" NAMESPACE [--since ISO-TIME]

The local cluster records every write with the time the API server received it and the time it answered
(hack.localcluster.audit), so the log shows, for each InferenceService of a burst namespace, how long it waited
between its create and the first write for it (its Deployment), and how long the API server itself took to
answer each write. Printed per second of the burst: writes received by program, the API server's median and
worst answer time, and how many services got their Deployment; then the per-service waits.

A wait that grows while the API server answers quickly is the controller's (its queue, its workers); answer
times that grow for every program are the API server's (or the machine's).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from hack.localcluster import audit


def _time(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def program_of(event: dict[str, Any]) -> str:
    """A short name for who sent a write: the User-Agent's program, or the ServiceAccount of a kcm controller."""
    user = str((event.get("user") or {}).get("username", ""))
    if user.startswith("system:serviceaccount:kube-system:"):
        return "kcm/" + user.rsplit(":", 1)[1].removesuffix("-controller")
    agent = str(event.get("userAgent", "")).split("/", 1)[0]
    return agent or user


def target_of(event: dict[str, Any]) -> str:
    ref = event.get("objectRef") or {}
    sub = ref.get("subresource")
    return f"{event.get('verb')} {ref.get('resource')}{'/' + sub if sub else ''}"


def timeline(events: list[dict[str, Any]], namespace: str) -> None:
    ours = [e for e in events if (e.get("objectRef") or {}).get("namespace") == namespace]
    if not ours:
        print(f"no writes in namespace {namespace}")
        return
    created: dict[str, float] = {}
    deployed: dict[str, float] = {}
    for event in ours:
        ref = event["objectRef"]
        if event["verb"] == "create" and ref.get("resource") == "inferenceservices":
            created[ref.get("name") or ""] = _time(event["stageTimestamp"])
        if ref.get("resource") == "deployments" and event["verb"] in ("patch", "create", "update"):
            deployed.setdefault(ref["name"], _time(event["requestReceivedTimestamp"]))
    start = min(created.values()) if created else _time(ours[0]["requestReceivedTimestamp"])
    end = max(deployed.values(), default=start) + 5
    per_second: dict[int, Counter[str]] = defaultdict(Counter)
    latency: dict[int, list[float]] = defaultdict(list)
    deployments_at: Counter[int] = Counter()
    for event in events:
        received = _time(event["requestReceivedTimestamp"])
        if not start - 1 <= received <= end:
            continue
        second = int(received - start)
        per_second[second][program_of(event)] += 1
        latency[second].append(_time(event["stageTimestamp"]) - received)
    for at in deployed.values():
        deployments_at[int(at - start)] += 1
    print("second  writes  answer p50/max ms  deployments  by program")
    for second in sorted(per_second):
        counts, answers = per_second[second], latency[second]
        top = ", ".join(f"{p} {n}" for p, n in counts.most_common(6))
        print(
            f"{second:6d}  {sum(counts.values()):6d}  {statistics.median(answers) * 1000:6.0f} /"
            f" {max(answers) * 1000:6.0f}  {deployments_at[second]:11d}  {top}"
        )
    print("\nwrites in the namespace by program and kind:")
    kinds = Counter(f"{program_of(e)}: {target_of(e)}" for e in ours)
    for key, count in sorted(kinds.items()):
        print(f"  {count:6d}  {key}")
    waits = sorted(deployed[n] - created[n] for n in deployed if n in created)
    if waits:
        print(
            f"\ncreate answered -> Deployment write received: p50 {statistics.median(waits):.2f} s, "
            f"p99 {waits[min(len(waits) - 1, round(0.99 * (len(waits) - 1)))]:.2f} s, max {waits[-1]:.2f} s"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("namespace")
    parser.add_argument("--kubeconfig", type=Path, default=os.environ.get("LLMKUBE_TEST_KUBECONFIG"))
    parser.add_argument("--since", type=datetime.fromisoformat, help="only events received after (aware ISO)")
    arguments = parser.parse_args()
    if arguments.kubeconfig is None:
        parser.error("--kubeconfig (or LLMKUBE_TEST_KUBECONFIG) is required")
    # `python -m hack.localcluster up` writes the admin kubeconfig into the state directory, beside the log.
    log = arguments.kubeconfig.parent / audit.LOG_FILE
    if not log.exists():
        parser.error(f"the cluster of {arguments.kubeconfig} writes no audit log")
    timeline(audit.read_events(log, since=arguments.since), arguments.namespace)
    return 0


if __name__ == "__main__":
    sys.exit(main())
