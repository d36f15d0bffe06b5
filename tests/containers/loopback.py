"""A network namespace of our own with only a loopback interface: containers join it, and so do the test's
servers and clients, so every request stays on that loopback. Nothing is mounted or configured on the host: the
namespace belongs to a holder process and disappears with the last process in it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

import attrs

#: Run inside the namespace: one HTTP request, then `<status>\n<body>` on stdout (status 0: no connection).
_CLIENT = """
import sys, urllib.request, urllib.error
url, body = sys.argv[1], sys.argv[2]
request = urllib.request.Request(url, data=body.encode() or None, headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=float(sys.argv[3])) as response:
        print(response.status); print(response.read().decode(errors="replace"))
except urllib.error.HTTPError as exc:
    print(exc.code); print(exc.read().decode(errors="replace"))
except OSError as exc:
    print(0); print(exc)
"""


@attrs.frozen
class Response:
    status: int
    body: str


@attrs.frozen
class Loopback:
    holder_pid: int

    @property
    def podman_network(self) -> str:
        return f"ns:/proc/{self.holder_pid}/ns/net"

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside the namespace."""
        return ["nsenter", f"--net=/proc/{self.holder_pid}/ns/net", "--", *argv]

    def request(self, url: str, *, body: str = "", timeout_s: float = 60) -> Response:
        result = subprocess.run(
            self.command([sys.executable, "-c", _CLIENT, url, body, str(timeout_s)]),
            capture_output=True,
            text=True,
            check=True,
            timeout=timeout_s + 30,
        )
        status, _, text = result.stdout.partition("\n")
        return Response(status=int(status), body=text)

    def wait_for(self, url: str, *, contains: str, timeout_s: float) -> Response:
        """Polls `url` until its body contains `contains` (never judged by status alone)."""
        deadline = time.monotonic() + timeout_s
        while True:
            response = self.request(url, timeout_s=5)
            if contains in response.body or time.monotonic() > deadline:
                return response
            time.sleep(0.3)


@contextlib.contextmanager
def private_loopback() -> Iterator[Loopback]:
    holder = subprocess.Popen(
        ["unshare", "--net", "--", "sh", "-c", "ip link set lo up && echo up && exec sleep infinity"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert holder.stdout is not None
        if holder.stdout.readline().strip() != "up":
            raise RuntimeError("could not bring up the loopback of a new network namespace")
        yield Loopback(holder.pid)
    finally:
        holder.kill()
        holder.wait()


@contextlib.contextmanager
def serving_directory(loopback: Loopback, directory: str, *, port: int) -> Iterator[str]:
    """A static HTTP server on the namespace's 127.0.0.1:`port`; yields its base URL."""
    server = subprocess.Popen(
        loopback.command(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", directory]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        if (
            "Directory listing"
            not in loopback.wait_for(f"{base_url}/", contains="Directory listing", timeout_s=30).body
        ):
            raise RuntimeError("the static HTTP server did not come up")
        yield base_url
    finally:
        server.terminate()
        server.wait()
