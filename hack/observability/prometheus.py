"""A real Prometheus on loopback for tests and scripts, and the few HTTP API calls they make.

`running_prometheus(config)` writes the configuration into a temporary directory, starts the prometheus binary
(hack/build-tools.sh) listening on 127.0.0.1 only, with its TSDB in that directory, waits until it is ready,
yields a client, and on exit stops it (SIGTERM, then SIGKILL) and removes the directory. The process runs in its
own session, so nothing it starts can outlive it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from hack.demo import free_port
from hack.localcluster.rest import wait_until
from hack.tools import prometheus_binary

STARTUP_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0


class PrometheusError(RuntimeError):
    """The Prometheus API answered with an error (a query that does not parse, an unknown function)."""


class Prometheus:
    """The HTTP API of one Prometheus server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def _call(self, path: str, params: Mapping[str, str]) -> Any:
        body = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(f"{self.base_url}{path}", data=body, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as err:
            payload = json.loads(err.read() or b"{}")
        if payload.get("status") != "success":
            raise PrometheusError(f"{payload.get('errorType', 'error')}: {payload.get('error', payload)}")
        return payload["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result as a list of series (a scalar or string result is one pseudo-series)."""
        data = self._call("/api/v1/query", {"query": expr})
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, *, start: float, end: float, step: float) -> list[dict[str, Any]]:
        params = {"query": expr, "start": str(start), "end": str(end), "step": str(step)}
        result: list[dict[str, Any]] = self._call("/api/v1/query_range", params)["result"]
        return result

    def parse(self, expr: str) -> dict[str, Any]:
        """The expression's syntax tree, as Prometheus's parser builds it (see hack.observability.promql)."""
        tree: dict[str, Any] = self._call("/api/v1/parse_query", {"query": expr})
        return tree

    def targets(self) -> list[dict[str, Any]]:
        active: list[dict[str, Any]] = self._call_get("/api/v1/targets")["activeTargets"]
        return active

    def _call_get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.base_url}{path}", timeout=30) as response:
            payload = json.loads(response.read())
        return payload["data"]

    def wait_for_targets(self, *, timeout_seconds: float = 60.0) -> None:
        """Until every configured target has been scraped successfully at least once."""

        def all_up() -> bool:
            targets = self.targets()
            return bool(targets) and all(t["health"] == "up" for t in targets)

        wait_until(all_up, what="every Prometheus target to be up", timeout_seconds=timeout_seconds)

    def target_errors(self) -> dict[str, str]:
        return {t["scrapeUrl"]: t["lastError"] for t in self.targets() if t["health"] != "up"}


@contextlib.contextmanager
def running_prometheus(
    config: Mapping[str, Any], *, rule_files: Mapping[str, str] | None = None
) -> Iterator[Prometheus]:
    """A Prometheus scraping what `config` says (its `rule_files` key is filled from `rule_files`)."""
    binary = prometheus_binary()
    workdir = Path(tempfile.mkdtemp(prefix="llmkube-prometheus-"))
    try:
        config = dict(config)
        if rule_files:
            paths = []
            for name, text in rule_files.items():
                path = workdir / name
                path.write_text(text)
                paths.append(str(path))
            config["rule_files"] = paths
        config_path = workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log = (workdir / "prometheus.log").open("wb")
        process = subprocess.Popen(
            [
                str(binary),
                f"--config.file={config_path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=workdir,
        )
        try:
            _wait_ready(process, base_url=base_url, log_path=workdir / "prometheus.log")
            yield Prometheus(base_url)
        finally:
            _stop(process)
            log.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_ready(process: subprocess.Popen[bytes], *, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PrometheusError(
                f"prometheus exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
            )
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(f"{base_url}/-/ready", timeout=2) as response,
        ):
            if response.status == 200 and b"Ready" in response.read():
                return
        time.sleep(0.2)
    raise PrometheusError(f"prometheus at {base_url} not ready after {STARTUP_TIMEOUT_S:.0f}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
