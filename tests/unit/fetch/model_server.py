"""Local HTTP servers the fetch tests download from: a file server with faults on demand, and a Hub look-alike.

Both bind 127.0.0.1 on a free port. Faults are set per test on `Faults`; every request is recorded, so tests can
assert what the fetcher asked for (a Range, an If-Range, no GET at all, no token sent to the CDN).
"""

from __future__ import annotations

import hashlib
import re

import attrs
from aiohttp import web
from aiohttp.test_utils import TestServer

CHUNK = 1 << 20


@attrs.define
class Faults:
    status: int | None = None  # answer every request with this status and no body
    body: bytes | None = None  # serve these bytes instead of the file
    cut_after: list[int] = attrs.Factory(list)  # per request, in order: close after this many body bytes
    ignore_range: bool = False
    chunked: bool = False  # no Content-Length (so the size is unknown until the end)


@attrs.frozen
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]


class FileServer:
    """Serves one file at any path, honouring `Range` and `If-Range` like a CDN does."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.etag = '"' + hashlib.sha256(content).hexdigest()[:20] + '"'
        self.faults = Faults()
        self.requests: list[SeenRequest] = []
        self._server = TestServer(self._app(), host="127.0.0.1")

    def url(self, path: str = "/models/model.gguf") -> str:
        return str(self._server.make_url(path))

    @property
    def gets(self) -> list[SeenRequest]:
        return [r for r in self.requests if r.method == "GET"]

    async def __aenter__(self) -> FileServer:
        await self._server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.close()

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.serve)
        return app

    async def serve(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(SeenRequest(request.method, request.path, dict(request.headers)))
        if self.faults.status is not None:
            return web.Response(status=self.faults.status, text=f"status {self.faults.status}")
        content = self.faults.body if self.faults.body is not None else self.content
        start = self._range_start(request)
        response = web.StreamResponse(status=206 if start else 200)
        response.headers["ETag"] = self.etag
        response.headers["Accept-Ranges"] = "bytes"
        if start:
            response.headers["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
        if self.faults.chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = len(content) - start
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        cut = self.faults.cut_after.pop(0) if self.faults.cut_after else None
        view = memoryview(content)[start:]
        sent = 0
        while sent < len(view):
            step = CHUNK if cut is None else min(CHUNK, cut - sent)
            await response.write(view[sent : sent + step])
            sent += step
            if cut is not None and sent >= cut:
                assert request.transport is not None
                request.transport.close()  # a connection that breaks mid-body
                return response
        await response.write_eof()
        return response

    def _range_start(self, request: web.Request) -> int:
        match = re.fullmatch(r"bytes=(\d+)-", request.headers.get("Range", ""))
        if match is None or self.faults.ignore_range:
            return 0
        if_range = request.headers.get("If-Range")
        if if_range is not None and if_range != self.etag:
            return 0
        return int(match.group(1))


@attrs.define
class HubRepo:
    repo: str
    filename: str
    commit: str
    token: str | None = None  # required bearer token (a private repo)
    gated: bool = False


class HubServer:
    """Enough of the HuggingFace Hub's `resolve` endpoint for huggingface_hub and our downloader.

    Like the real Hub, it answers with a redirect to a CDN on another origin (here: the `FileServer`), carrying
    the file's facts in `X-Repo-Commit`, `X-Linked-Etag` and `X-Linked-Size`.
    """

    def __init__(self, *, repo: HubRepo, cdn: FileServer) -> None:
        self.repo = repo
        self.cdn = cdn
        self.requests: list[SeenRequest] = []
        app = web.Application()
        app.router.add_route("*", "/{org}/{name}/resolve/{revision}/{filename:.+}", self.resolve)
        self._server = TestServer(app, host="127.0.0.1")

    @property
    def endpoint(self) -> str:
        return str(self._server.make_url("")).rstrip("/")

    async def __aenter__(self) -> HubServer:
        await self._server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.close()

    async def resolve(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(SeenRequest(request.method, request.path, dict(request.headers)))
        repo = f"{request.match_info['org']}/{request.match_info['name']}"
        if repo != self.repo.repo:
            return self._error(404 if self._authorized(request) else 401, "RepoNotFound")
        if self.repo.token is not None and not self._authorized(request):
            return self._error(401, "RepoNotFound")
        if self.repo.gated:
            return self._error(403, "GatedRepo")
        if request.match_info["revision"] not in ("main", self.repo.commit):
            return self._error(404, "RevisionNotFound")
        if request.match_info["filename"] != self.repo.filename:
            return self._error(404, "EntryNotFound")
        digest = hashlib.sha256(self.cdn.content).hexdigest()
        return web.Response(
            status=302,
            headers={
                "Location": self.cdn.url(f"/blobs/{digest}"),
                "X-Repo-Commit": self.repo.commit,
                "X-Linked-Etag": f'"{digest}"',
                "X-Linked-Size": str(len(self.cdn.content)),
                "ETag": f'"{digest}"',
            },
        )

    def _authorized(self, request: web.Request) -> bool:
        return self.repo.token is None or request.headers.get("Authorization") == f"Bearer {self.repo.token}"

    @staticmethod
    def _error(status: int, code: str) -> web.Response:
        return web.Response(status=status, headers={"X-Error-Code": code}, text=code)
