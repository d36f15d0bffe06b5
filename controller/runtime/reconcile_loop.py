"""The worker mechanics: take a key, reconcile it, and turn the outcome into a queue action.

| reconcile outcome             | queue action                     | reconcile_total{result=} |
|-------------------------------|----------------------------------|--------------------------|
| raises (not terminal)         | add_rate_limited (backoff grows) | error                    |
| raises TerminalError          | forget; no requeue               | error (+ terminal)       |
| Result(requeue_after > 0)     | forget, then add_after           | requeue_after            |
| Result()                      | forget                           | success                  |

`done` always follows, so the key can be handed out again. An exception never ends a worker: it is logged and
the key retried, because one bad object must not stop the controller reconciling all the others.
"""

from __future__ import annotations

import uuid
from typing import Protocol

import attrs
import structlog

from controller.kube.errors import (
    Conflict,
    ConnectionFailed,
    Gone,
    RequestTimeout,
    ServerError,
    TooManyRequests,
)
from controller.runtime.clock import Clock
from controller.runtime.controller_metrics import (
    RESULT_ERROR,
    RESULT_REQUEUE_AFTER,
    RESULT_SUCCESS,
    ControllerMetrics,
)
from controller.runtime.request import Request, Result, TerminalError
from controller.runtime.workqueue import QueueShutDown, RateLimitingQueue

#: API failures a retry resolves (the server away, overloaded or raced by another writer), as opposed to a bug.
TRANSIENT_API_ERRORS = (ConnectionFailed, RequestTimeout, ServerError, TooManyRequests, Conflict, Gone)

log = structlog.get_logger(__name__)


class Reconciler(Protocol):
    async def reconcile(self, request: Request) -> Result:
        """Drive the named object towards its spec; raise to retry with backoff, TerminalError to give up."""
        ...


def new_reconcile_id() -> str:
    """Short enough to read in a log line, long enough not to collide within one controller's history."""
    return uuid.uuid4().hex[:12]


@attrs.frozen(kw_only=True)
class ReconcileLoop:
    controller: str
    queue: RateLimitingQueue[Request]
    reconciler: Reconciler
    clock: Clock
    metrics: ControllerMetrics

    async def work(self) -> None:
        """One worker: reconcile keys until the queue is shut down and empty."""
        while True:
            try:
                request = await self.queue.get()
            except QueueShutDown:
                return
            try:
                # Once the controller stops, keys still queued are released unreconciled: only the reconciles
                # already running get the grace period, and the next leader relists everything anyway.
                if not self.queue.shutting_down:
                    await self._reconcile_counted(request)
            finally:
                self.queue.done(request)

    async def _reconcile_counted(self, request: Request) -> None:
        active_workers = self.metrics.active_workers.labels(self.controller)
        active_workers.inc()
        try:
            await self.reconcile_handler(request)
        finally:
            active_workers.dec()

    async def reconcile_handler(self, request: Request) -> None:
        """Reconcile `request` once and apply the Result contract to the queue."""
        with structlog.contextvars.bound_contextvars(
            controller=self.controller, key=request.key, reconcile_id=new_reconcile_id()
        ):
            started_at = self.clock.now()
            try:
                result = await self.reconciler.reconcile(request)
            except Exception as error:
                self._observe_time(started_at)
                self._handle_error(request, error)
                return
            self._observe_time(started_at)
            self._handle_result(request, result)

    def _handle_error(self, request: Request, error: Exception) -> None:
        self._count(RESULT_ERROR)
        self.metrics.reconcile_errors_total.labels(self.controller).inc()
        if _is_terminal(error):
            self.metrics.terminal_reconcile_errors_total.labels(self.controller).inc()
            self.queue.forget(request)
            log.error("reconcile failed with a terminal error; not requeued", exc_info=error)
            return
        self.queue.add_rate_limited(request)
        if isinstance(error, TRANSIENT_API_ERRORS):
            # The API server was away, busy or raced by another writer: expected under faults and retried, so
            # no traceback; a traceback in the log then always means a bug worth reading.
            log.warning(
                "reconcile failed; requeued with backoff",
                failures=self.queue.num_requeues(request),
                error=str(error),
                error_type=type(error).__name__,
            )
            return
        log.error(
            "reconcile failed; requeued with backoff",
            failures=self.queue.num_requeues(request),
            exc_info=error,
        )

    def _handle_result(self, request: Request, result: Result) -> None:
        # Forget first in both branches: a success ends the failure streak, so the next error starts at 5 ms.
        self.queue.forget(request)
        if result.requeue_after > 0:
            self._count(RESULT_REQUEUE_AFTER)
            self.queue.add_after(request, result.requeue_after)
            log.debug("reconciled; requeued after delay", requeue_after=result.requeue_after)
            return
        self._count(RESULT_SUCCESS)
        log.debug("reconciled")

    def _count(self, result: str) -> None:
        self.metrics.reconcile_total.labels(self.controller, result).inc()

    def _observe_time(self, started_at: float) -> None:
        self.metrics.reconcile_time_seconds.labels(self.controller).observe(self.clock.now() - started_at)


def _is_terminal(error: Exception) -> bool:
    """A TerminalError, or a group (from a reconciler's task group) made only of them."""
    if isinstance(error, TerminalError):
        return True
    if isinstance(error, ExceptionGroup):
        _terminal, rest = error.split(TerminalError)
        return rest is None
    return False
