"""A real client that notes the writes it sends, so a test can tell a controller at rest from one that churns."""

from __future__ import annotations

from typing import Any

from controller.kube import KubeClient

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class CountingKubeClient(KubeClient):
    """The real client, noting every write request it sends (method and path)."""

    writes: list[tuple[str, str]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes = []

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if method in WRITE_METHODS:
            self.writes.append((method, path))
        return await super().request(method, path, **kwargs)
