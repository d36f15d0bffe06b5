"""The main job prints when each step finished and how long it took after the one before."""

from __future__ import annotations

import pytest

from hack.demo import common
from hack.demo.common import Steps


def test_steps_are_listed_in_order_with_their_increments(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(common, "elapsed", lambda: now[0])
    steps = Steps()

    for step, at in (("cluster up", 10.04), ("images loaded", 12.5), ("first answer", 31.0)):
        now[0] = at
        steps.mark(step)

    assert steps.done == {"cluster up": 10.0, "images loaded": 12.5, "first answer": 31.0}
    assert [line.split() for line in steps.table()] == [
        ["cluster", "up", "10.0", "s", "(+10.0", "s)"],
        ["images", "loaded", "12.5", "s", "(+2.5", "s)"],
        ["first", "answer", "31.0", "s", "(+18.5", "s)"],
    ]
