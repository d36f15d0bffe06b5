"""What a work-queue carries and what a reconciler returns, as in controller-runtime."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True, order=True)
class Request:
    """Names one object to reconcile; the reconciler reads its current state from the cache."""

    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def __str__(self) -> str:
        return self.key


@attrs.frozen(kw_only=True)
class Result:
    """The outcome of a successful reconcile.

    `requeue_after` > 0 asks for another pass after that many seconds (the rate limiter is reset first), which is
    how a reconciler polls something it cannot watch. A plain `Result()` forgets the key's backoff.
    """

    requeue_after: float = 0.0


class TerminalError(Exception):
    """A reconcile error that retrying cannot fix (bad spec): it is counted and logged but not requeued."""
