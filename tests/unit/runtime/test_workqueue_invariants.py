"""The queue against a model, under random interleavings of add, get and done by several workers.

The model is a FIFO of keys that need processing plus the set each worker holds. After every step: no key is
held by two workers, no key sits in the FIFO twice, and the queue's length matches the model. At the end every
worker finishes and the queue is emptied: every key added since it was last handed out comes out exactly once.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from controller.runtime.workqueue import Queue, QueueEmpty

KEYS = st.sampled_from(["a", "b", "c", "d"])
WORKERS = st.integers(min_value=0, max_value=2)


class QueueModel(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.queue: Queue[str] = Queue(name="")
        # Keys waiting for a worker, in the order the queue must hand them out.
        self.waiting: list[str] = []
        # Keys re-added while held: they must come back after `done`.
        self.dirty_held: set[str] = set()
        # What each worker holds.
        self.held: dict[int, set[str]] = {0: set(), 1: set(), 2: set()}

    def holder_of(self, key: str) -> int | None:
        return next((worker for worker, keys in self.held.items() if key in keys), None)

    @rule(key=KEYS)
    def add(self, key: str) -> None:
        self.queue.add(key)
        if key in self.waiting:
            return
        if self.holder_of(key) is not None:
            self.dirty_held.add(key)
        else:
            self.waiting.append(key)

    @precondition(lambda self: bool(self.waiting))
    @rule(worker=WORKERS)
    def get(self, worker: int) -> None:
        key = self.queue.get_nowait()
        assert key == self.waiting.pop(0), "keys must come out in the order they were added"
        assert self.holder_of(key) is None, f"{key} handed to worker {worker} while another holds it"
        self.held[worker].add(key)

    @precondition(lambda self: not self.waiting)
    @rule()
    def get_from_an_empty_queue(self) -> None:
        try:
            self.queue.get_nowait()
        except QueueEmpty:
            return
        raise AssertionError("a key was handed out that the model says nobody asked for")

    @precondition(lambda self: any(self.held.values()))
    @rule(data=st.data())
    def done(self, data: st.DataObject) -> None:
        worker = data.draw(st.sampled_from([w for w, keys in self.held.items() if keys]))
        key = data.draw(st.sampled_from(sorted(self.held[worker])))
        self.queue.done(key)
        self.held[worker].discard(key)
        if key in self.dirty_held:
            self.dirty_held.discard(key)
            self.waiting.append(key)

    @invariant()
    def length_matches_the_model(self) -> None:
        assert len(self.queue) == len(self.waiting)
        assert len(set(self.waiting)) == len(self.waiting), "a key waits twice"

    @invariant()
    def processing_matches_the_model(self) -> None:
        assert self.queue.processing == sum(len(keys) for keys in self.held.values())

    def teardown(self) -> None:
        expected = self.waiting + sorted(self.dirty_held)
        for keys in self.held.values():
            for key in sorted(keys):
                self.queue.done(key)
        delivered: list[str] = []
        while True:
            try:
                delivered.append(self.queue.get_nowait())
            except QueueEmpty:
                break
        assert sorted(delivered) == sorted(expected), "every pending key must be delivered exactly once"


QueueModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40)
TestQueueInvariants = QueueModel.TestCase
