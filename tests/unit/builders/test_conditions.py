from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.v1alpha1.meta import Condition
from controller.builders.conditions import (
    DesiredCondition,
    apply_conditions,
    find_condition,
    format_time,
    human_size,
    remove_condition,
    set_condition,
)

T0 = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def ready(
    status: str, *, reason: str = "Cached", message: str = "", generation: int = 1, now: datetime = T0
) -> list[Condition]:
    conditions, _ = set_condition(
        [],
        type="Ready",
        status=status,
        reason=reason,
        message=message,
        observed_generation=generation,
        now=now,
    )
    return conditions


def test_a_new_condition_is_appended_with_the_current_time() -> None:
    [condition] = ready("True")
    assert condition.last_transition_time == "2025-01-02T03:04:05Z"


def test_transition_time_is_kept_when_only_reason_and_message_change() -> None:
    conditions, changed = set_condition(
        ready("False", reason="Pending"),
        type="Ready",
        status="False",
        reason="Downloading",
        message="5%",
        observed_generation=2,
        now=T1,
    )
    assert changed
    assert conditions[0].last_transition_time == format_time(T0)
    assert (conditions[0].reason, conditions[0].message, conditions[0].observed_generation) == (
        "Downloading",
        "5%",
        2,
    )


def test_transition_time_moves_when_status_changes() -> None:
    conditions, changed = set_condition(
        ready("False"),
        type="Ready",
        status="True",
        reason="Cached",
        message="",
        observed_generation=1,
        now=T1,
    )
    assert changed
    assert conditions[0].last_transition_time == format_time(T1)


def test_setting_the_same_condition_again_changes_nothing() -> None:
    existing = ready("True")
    conditions, changed = set_condition(
        existing, type="Ready", status="True", reason="Cached", message="", observed_generation=1, now=T1
    )
    assert not changed
    assert conditions == existing


def test_other_condition_types_keep_their_place() -> None:
    conditions = apply_conditions(
        ready("True"),
        [DesiredCondition(type="Degraded", status="False", reason="AsExpected")],
        observed_generation=1,
        now=T1,
    )
    assert [c.type for c in conditions] == ["Ready", "Degraded"]


def test_find_and_remove_by_type() -> None:
    conditions = ready("True")
    assert find_condition(conditions, "Ready") is conditions[0]
    assert find_condition(conditions, "Degraded") is None
    assert remove_condition(conditions, "Ready") == ([], True)
    assert remove_condition(conditions, "Degraded") == (conditions, False)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_time(datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (512, "512 B"),
        (1024, "1.0 KiB"),
        (3435973837, "3.2 GiB"),
        ((1 << 20) - 10, "1.0 MiB"),
        (5 << 40, "5.0 TiB"),
    ],
)
def test_human_sizes_are_1024_based(size: int, text: str) -> None:
    assert human_size(size) == text
