"""The model-cache side of the chaos benchmark: a throttled loopback model source, the cache volume and its faults.

On kwok no node runs the download pods; the stand-in kubelet (hack/localcluster/podrunner.py) runs each one's
`llmkube fetch` as a local process, with the cache claim mapped to a local directory. Here that directory is a
size-limited tmpfs mounted for the run (and unmounted at its end, also on failure), so the faults are real ones:
- `fill`: a file takes every free byte of the volume until `drain`, so a download in progress fails with ENOSPC;
- `corrupt`: bytes in the middle of a published `model.gguf` are flipped (its size kept, as bit rot would);
- `kill_downloads`: the running `llmkube fetch` processes are SIGKILLed mid-file (the node's OOM killer or a
  node reboot), and the stand-in kubelet reports the pod failed with exit code 137, as a kubelet does.

The source serves one GGUF under several URLs (each its own cache key) at a limited rate, so a download lasts
long enough to be cut.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from aiohttp import web

from api.v1alpha1.fetch_result import MODEL_FILE_NAME

CHUNK = 256 * 1024
FILLER = ".chaos-filler"


class ThrottledSource:
    """One file on 127.0.0.1 under `/src-<k>/model.gguf`, with `Range` support, at `rate` bytes per second."""

    def __init__(self, content: bytes, *, rate: int) -> None:
        self.content = content
        self.rate = rate
        self.base = ""

    def url(self, index: int) -> str:
        return f"{self.base}/src-{index}/model.gguf"

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        start = 0
        ranged = request.headers.get("Range", "")
        if ranged.startswith("bytes=") and ranged.endswith("-"):
            start = int(ranged[len("bytes=") : -1])
        size = len(self.content)
        response = web.StreamResponse(status=206 if start else 200)
        response.headers["Accept-Ranges"] = "bytes"
        response.headers["ETag"] = '"chaos-source"'
        response.content_length = size - start
        if start:
            response.headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        await response.prepare(request)
        per_chunk = CHUNK / self.rate
        try:
            for offset in range(start, size, CHUNK):
                await response.write(self.content[offset : offset + CHUNK])
                await anyio.sleep(per_chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the fetcher went away mid-file (a fault the benchmark injected)
        return response

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ThrottledSource]:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            yield self
        finally:
            with anyio.CancelScope(shield=True):
                await runner.cleanup()


class CacheVolume:
    """A tmpfs of `size_bytes` mounted at `path` for the run: the cache claim's directory on the stand-in node."""

    def __init__(self, path: Path, *, size_bytes: int) -> None:
        self.path = path
        self.size_bytes = size_bytes
        self.mounted = False
        self.fills = 0
        self.corruptions = 0
        self.download_kills = 0

    def mount(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "mount",
                "-t",
                "tmpfs",
                "-o",
                f"size={self.size_bytes},mode=0777",
                "llmkube-chaos",
                str(self.path),
            ],
            check=True,
        )
        self.mounted = True

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.path)], check=True)
            self.mounted = False

    def fill(self) -> int:
        """Take every free byte; returns how many were taken."""
        free = os.statvfs(self.path).f_bavail * os.statvfs(self.path).f_frsize
        with contextlib.suppress(OSError), (self.path / FILLER).open("wb") as fh:
            block = b"\0" * 2**20
            for _ in range(free // len(block) + 1):
                fh.write(block)
        self.fills += 1
        return free

    def drain(self) -> None:
        (self.path / FILLER).unlink(missing_ok=True)

    def published(self) -> list[Path]:
        return sorted(self.path.glob(f"*/{MODEL_FILE_NAME}"))

    def corrupt(self, model_file: Path) -> None:
        """Flip 4 KiB in the middle of a published file, keeping its size."""
        with model_file.open("r+b") as fh:
            fh.seek(model_file.stat().st_size // 2)
            block = fh.read(4096)
            fh.seek(-len(block), os.SEEK_CUR)
            fh.write(bytes(b ^ 0xFF for b in block))
        self.corruptions += 1


def kill_downloads() -> int:
    """SIGKILL every `llmkube fetch` this process started (through the stand-in kubelet); returns how many."""
    killed = 0
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent == me and any(arg.endswith(b"llmkube") for arg in argv[:2]) and b"fetch" in argv:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
    return killed
