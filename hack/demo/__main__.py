"""`python -m hack.demo [--host] [--keep] [--summary FILE] [--question TEXT]`; see hack/demo/__init__.py."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from hack.demo import host, pods
from hack.demo.common import DEFAULT_QUESTION, say
from hack.localcluster.base import kubectl_binary
from hack.localcluster.processes import interrupt_on_termination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make demo",
        description="From nothing to an OpenAI-compatible answer on the embedded local cluster.",
    )
    parser.add_argument(
        "--host",
        action="store_true",
        help="the demo of `accelerator: host`: controller, gateway and host agent as local processes on a "
        "cluster of fake nodes (default: everything in pods on a real node)",
    )
    parser.add_argument("--question", default=DEFAULT_QUESTION, help="what to ask the model")
    parser.add_argument("--keep", action="store_true", help="keep everything running until Ctrl-C")
    parser.add_argument("--summary", type=Path, help="write what happened as JSON to this file")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for each step")
    args = parser.parse_args(argv)
    interrupt_on_termination()  # SIGTERM (a supervisor, `timeout`, `kill`) tears down like Ctrl-C
    kubectl_binary()  # fail early, before anything starts, if the test extra is missing
    workdir = Path(tempfile.mkdtemp(prefix="llmkube-demo-"))
    say(f"working directory: {workdir}")
    try:
        summary = host.run(args, workdir) if args.host else pods.run(args, workdir)
    except KeyboardInterrupt:
        say("interrupted; everything was stopped")
        return 130
    if args.summary:
        args.summary.write_text(json.dumps(summary, indent=2))
    say("done; every process this demo started has stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
