"""Priorities in the work-queue: higher first, FIFO among equals, raised on re-add, kept across processing.

The scenarios follow controller-runtime's priority queue; the stateful model checks that priorities never make
the queue hand a key out twice, lose one, or give it to two workers at once.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from controller.runtime.workqueue import Queue, QueueEmpty, RateLimitingQueue


def drain(queue: Queue[str]) -> list[str]:
    keys: list[str] = []
    while True:
        try:
            keys.append(queue.get_nowait())
        except QueueEmpty:
            return keys


def test_hands_out_higher_priorities_first_and_each_priority_in_order() -> None:
    queue: Queue[str] = Queue()
    queue.add("low-1")
    queue.add("high-1", priority=5)
    queue.add("low-2")
    queue.add("high-2", priority=5)
    queue.add("lowest", priority=-100)

    assert drain(queue) == ["high-1", "high-2", "low-1", "low-2", "lowest"]


def test_priority_of_ranks_keys_as_they_are_added() -> None:
    queue: Queue[str] = Queue(priority_of=lambda key: 1 if key.startswith("new") else 0)
    for key in ("old-a", "new-a", "old-b", "new-b"):
        queue.add(key)

    assert drain(queue) == ["new-a", "new-b", "old-a", "old-b"]


def test_an_explicit_priority_overrides_priority_of() -> None:
    queue: Queue[str] = Queue(priority_of=lambda key: 1)
    queue.add("a", priority=0)
    queue.add("b")

    assert drain(queue) == ["b", "a"]


def test_a_waiting_key_added_again_with_a_higher_priority_moves_to_the_end_of_that_line() -> None:
    queue: Queue[str] = Queue()
    queue.add("a")
    queue.add("b")
    queue.add("c", priority=1)
    queue.add("a", priority=1)

    assert len(queue) == 3
    assert drain(queue) == ["c", "a", "b"]


def test_a_waiting_key_added_again_with_a_lower_priority_keeps_its_place() -> None:
    queue: Queue[str] = Queue()
    queue.add("a", priority=1)
    queue.add("b", priority=1)
    queue.add("a", priority=0)

    assert drain(queue) == ["a", "b"]


async def test_a_key_readded_while_held_comes_back_at_the_highest_priority_asked() -> None:
    queue: Queue[str] = Queue()
    queue.add("a")
    held = await queue.get()
    queue.add("b")
    queue.add("a")
    queue.add("a", priority=3)

    assert len(queue) == 1, "a held key must not wait beside its worker"
    queue.done(held)
    assert drain(queue) == ["a", "b"]


async def test_a_key_raised_and_taken_is_not_handed_out_again_from_its_old_line() -> None:
    queue: Queue[str] = Queue()
    queue.add("a")
    queue.add("b")
    queue.add("a", priority=1)
    assert queue.get_nowait() == "a"
    queue.done("a")

    assert drain(queue) == ["b"]


async def test_a_stale_entry_of_a_raised_key_does_not_jump_the_line_when_the_key_is_queued_again() -> None:
    """Found by the state machine: `a` raised out of the low line left an entry there, ahead of `b`."""
    queue: Queue[str] = Queue()
    queue.add("a", priority=-100)
    queue.add("a", priority=0)
    assert queue.get_nowait() == "a"
    queue.add("a", priority=-100)  # while held
    queue.add("b", priority=-100)
    queue.done("a")

    assert drain(queue) == ["b", "a"]


async def test_delayed_and_rate_limited_adds_take_the_priority_of_the_key() -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue(priority_of=lambda key: 1 if key == "first" else 0)
    queue.add("later")
    queue.add_after("first", 0)

    assert drain(queue) == ["first", "later"]


PRIORITIES = st.sampled_from([-100, 0, 1, 5])
KEYS = st.sampled_from(["a", "b", "c", "d"])
WORKERS = st.integers(min_value=0, max_value=2)


class PriorityQueueModel(RuleBasedStateMachine):
    """The model: each waiting key's priority and the order it joined that priority's line."""

    @initialize()
    def start(self) -> None:
        self.queue: Queue[str] = Queue()
        self.clock = 0
        # Waiting key -> (priority, when it joined that priority's line).
        self.waiting: dict[str, tuple[int, int]] = {}
        # Keys re-added while held -> the highest priority asked meanwhile.
        self.dirty_held: dict[str, int] = {}
        self.held: dict[int, set[str]] = {0: set(), 1: set(), 2: set()}

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def holder_of(self, key: str) -> int | None:
        return next((worker for worker, keys in self.held.items() if key in keys), None)

    @rule(key=KEYS, priority=PRIORITIES)
    def add(self, key: str, priority: int) -> None:
        self.queue.add(key, priority=priority)
        if key in self.waiting:
            if priority > self.waiting[key][0]:
                self.waiting[key] = (priority, self.tick())
        elif self.holder_of(key) is not None:
            self.dirty_held[key] = max(priority, self.dirty_held.get(key, priority))
        else:
            self.waiting[key] = (priority, self.tick())

    @precondition(lambda self: bool(self.waiting))
    @rule(worker=WORKERS)
    def get(self, worker: int) -> None:
        key = self.queue.get_nowait()
        expected = min(self.waiting, key=lambda k: (-self.waiting[k][0], self.waiting[k][1]))
        assert key == expected, "the highest priority first, and the earliest within it"
        del self.waiting[key]
        assert self.holder_of(key) is None, f"{key} handed to worker {worker} while another holds it"
        self.held[worker].add(key)

    @precondition(lambda self: any(self.held.values()))
    @rule(data=st.data())
    def done(self, data: st.DataObject) -> None:
        worker = data.draw(st.sampled_from([w for w, keys in self.held.items() if keys]))
        key = data.draw(st.sampled_from(sorted(self.held[worker])))
        self.queue.done(key)
        self.held[worker].discard(key)
        if key in self.dirty_held:
            self.waiting[key] = (self.dirty_held.pop(key), self.tick())

    @invariant()
    def length_matches_the_model(self) -> None:
        assert len(self.queue) == len(self.waiting)
        assert self.queue.processing == sum(len(keys) for keys in self.held.values())


PriorityQueueModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40)
TestPriorityQueueInvariants = PriorityQueueModel.TestCase
