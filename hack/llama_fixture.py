"""A real llama-server for tests: `running_llama_server()` and the session fixture `llama_server`.

Registered as a pytest plugin from the root conftest.py. The server serves SmolLM2-135M on a free loopback port
with the flags our InferenceService builder also passes (`--metrics`, a shared `--ctx-size`, `--parallel`), so
tests exercise the same HTTP surface users reach through a Service. Tests that use the fixture are marked `llama`
automatically, which lets `-m "not llama"` skip the whole stack.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from hack.llama import llama_server_binary, smollm2_gguf

DEFAULT_ARGS = ("--metrics", "--ctx-size", "2048", "--parallel", "2")
STARTUP_TIMEOUT_S = 120.0
STOP_GRACE_S = 10.0


class LlamaServerFailed(RuntimeError):
    pass


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_llama_server(
    *,
    model: Path | None = None,
    extra_args: Sequence[str] = DEFAULT_ARGS,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
    log_path: Path | None = None,
) -> Iterator[str]:
    """Starts llama-server, yields its base URL once /health says the model is loaded, then stops it.

    The server's output goes to `log_path` when given (the caller reads and removes it), else to a temporary file
    removed on exit.
    """
    binary = llama_server_binary()
    model_path = model if model is not None else smollm2_gguf()
    port = free_loopback_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [
        str(binary),
        "--model",
        str(model_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra_args,
    ]
    # A file, not a pipe: nobody reads the server's chatter while tests run, and a full pipe would stall it.
    keep_log = log_path is not None
    with (
        open(log_path, "wb")
        if log_path is not None
        else tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
    ) as log:
        log_path = Path(log.name)
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it cannot leave children behind
        )
    try:
        _wait_until_healthy(process, base_url=base_url, log_path=log_path, timeout_s=startup_timeout_s)
        yield base_url
    finally:
        _stop(process)
        if not keep_log:
            log_path.unlink(missing_ok=True)


def _wait_until_healthy(
    process: subprocess.Popen[bytes], *, base_url: str, log_path: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LlamaServerFailed(
                f"llama-server exited with {process.returncode} before becoming healthy:\n{_tail(log_path)}"
            )
        # /health answers 503 while the model loads and 200 once it can serve.
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(f"{base_url}/health", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise LlamaServerFailed(
        f"llama-server at {base_url} not healthy after {timeout_s:.0f}s:\n{_tail(log_path)}"
    )


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


def _tail(log_path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """Base URL (`http://127.0.0.1:PORT`) of a llama-server serving SmolLM2-135M for the whole session."""
    with running_llama_server() as base_url:
        yield base_url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "llama_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.llama)
