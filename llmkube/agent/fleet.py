"""The running supervisors, at most one per service, all owned by one task group of the agent.

`ensure` is what the reconciler calls each pass: same plan -> nothing happens; a new plan -> the old server is
stopped (and its port freed) before the new one starts, so a service never has two servers. `stop` returns only
once the process is gone, which is what lets the reconciler delete the EndpointSlice right after it.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.abc
import attrs
import structlog

from llmkube.agent.supervisor import SERVER_FAILED, Environment, ServerPlan, ServerSupervisor, ServingState

log = structlog.get_logger(__name__)


@attrs.define
class _Running:
    supervisor: ServerSupervisor
    scope: anyio.CancelScope
    done: anyio.Event
    #: Set when the supervisor died of a bug: it is not restarted until its plan changes.
    failure: ServingState | None = None


class Fleet:
    def __init__(
        self, task_group: anyio.abc.TaskGroup, *, env: Environment, on_change: Callable[[str], None]
    ) -> None:
        self._task_group = task_group
        self._env = env
        self._on_change = on_change
        self._running: dict[str, _Running] = {}

    def keys(self) -> list[str]:
        return list(self._running)

    def state(self, key: str) -> ServingState | None:
        running = self._running.get(key)
        if running is None:
            return None
        return running.failure or running.supervisor.state

    async def ensure(self, key: str, plan: ServerPlan) -> bool:
        """Run `plan` for `key`; True when a server was (re)started by this call."""
        running = self._running.get(key)
        if running is not None and running.supervisor.plan == plan:
            return False
        if running is not None:
            log.info("plan changed; restarting the server", service=key)
            await self.stop(key)
        supervisor = ServerSupervisor(
            key=key, plan=plan, env=self._env, on_change=lambda _state: self._on_change(key)
        )
        entry = _Running(supervisor=supervisor, scope=anyio.CancelScope(), done=anyio.Event())
        self._running[key] = entry
        self._task_group.start_soon(self._supervise, entry, name=f"llama-server {key}")
        return True

    async def stop(self, key: str) -> bool:
        """Stop `key`'s server and wait until its process is gone; False when none ran."""
        running = self._running.pop(key, None)
        if running is None:
            return False
        running.scope.cancel()
        await running.done.wait()
        return True

    async def stop_all(self) -> None:
        async with anyio.create_task_group() as tg:
            for key in list(self._running):
                tg.start_soon(self.stop, key)

    async def _supervise(self, entry: _Running) -> None:
        try:
            with entry.scope:
                await entry.supervisor.run()
        except Exception as exc:
            # A bug in one supervisor must not take every other service down with the agent's task group.
            log.exception("server supervisor failed", service=entry.supervisor.key)
            entry.failure = ServingState(
                phase=SERVER_FAILED, message=f"agent error: {type(exc).__name__}: {exc}"
            )
            self._on_change(entry.supervisor.key)
        finally:
            entry.done.set()
