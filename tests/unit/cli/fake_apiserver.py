"""A stand-in kube-apiserver for the CLI's error paths: just enough HTTP to answer as a real one does when the
CRDs are missing or an object does not exist.

A real apiserver answers a request for a resource type it does not serve with a bare 404 and the text
"404 page not found", and a missing object of a type it serves with a JSON Status naming the object; the CLI
tells the two apart (CRDs not installed vs. no such model), so both are reproduced here. The CLI runs its own
event loop, so the server answers from a thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

Object = dict[str, Any]

GROUP = "inference.llmkube.dev"
VERSION = "v1alpha1"
KINDS = {"models": "Model", "inferenceservices": "InferenceService"}


def collection_path(namespace: str, plural: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}"


class Cluster:
    """What the fake serves: per collection path, its objects; None when the CRDs are not installed."""

    def __init__(self, collections: dict[str, list[Object]] | None) -> None:
        self.collections = collections

    @classmethod
    def without_crds(cls) -> Cluster:
        return cls(None)

    @classmethod
    def with_crds(cls, namespace: str, **objects: list[str]) -> Cluster:
        """The CRDs installed; `objects` maps a plural (models, inferenceservices) to the names that exist."""
        collections: dict[str, list[Object]] = {}
        for plural, kind in KINDS.items():
            collections[collection_path(namespace, plural)] = [
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": kind,
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {"modelRef": {"name": name}, "source": {"url": "https://h/m.gguf"}},
                }
                for name in objects.get(plural, [])
            ]
        return cls(collections)


def _handler(cluster: Cluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            path = urlsplit(self.path).path.rstrip("/")
            collections = cluster.collections
            if collections is None:
                return self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
            if path in collections:
                items = collections[path]
                return self._json(200, {"kind": "List", "metadata": {"resourceVersion": "1"}, "items": items})
            parent, _, name = path.rpartition("/")
            if parent in collections:
                for item in collections[parent]:
                    if item["metadata"]["name"] == name:
                        return self._json(200, item)
                plural = parent.rpartition("/")[2]
                return self._json(
                    404,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "message": f'{plural}.{GROUP} "{name}" not found',
                        "reason": "NotFound",
                        "details": {"name": name, "group": GROUP, "kind": plural},
                        "code": 404,
                    },
                )
            return self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")

        do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _answer

        def _json(self, status: int, body: Object) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def write_kubeconfig(path: Path, *, server: str, namespace: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "fake", "user": {"token": "fake-token"}}],
        "contexts": [
            {"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}
        ],
        "current-context": "fake",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def serving(cluster: Cluster) -> Iterator[str]:
    """The fake apiserver's URL, for as long as the block runs."""
    with http_server(_handler(cluster)) as url:
        yield url


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 (the CLI runs its own event loop, so it answers from a thread)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
