"""metav1.Condition bookkeeping with meta.SetStatusCondition's semantics, on frozen values.

`lastTransitionTime` moves only when `status` changes; reason, message and observedGeneration are overwritten
in place. That is what lets a reconciler recompute every condition on each pass and still write nothing when
nothing happened: recomputed conditions equal the stored ones, so the status body equals the cached status and
the Applier (controller.reconcilers.apply) sends nothing.

Times have second precision in RFC 3339 UTC (`2025-01-02T03:04:05Z`), as metav1.Time serialises them, so a
value read back from the server compares equal to the one written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import attrs

from api.v1alpha1.meta import Condition

_SIZE_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


@attrs.frozen(kw_only=True)
class Transition:
    """A status change worth an Event (what `kubectl describe` shows), as a status home decides it."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@attrs.frozen(kw_only=True)
class DesiredCondition:
    """A condition as a decision states it; `apply_conditions` adds generation and transition time."""

    type: str
    status: str
    reason: str
    message: str = ""


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("condition times must be timezone-aware (use datetime.now(UTC))")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp from the API ("2025-01-02T03:04:05Z"), or None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def find_condition(conditions: Sequence[Condition] | None, condition_type: str) -> Condition | None:
    for condition in conditions or ():
        if condition.type == condition_type:
            return condition
    return None


def set_condition(
    conditions: Sequence[Condition] | None,
    *,
    type: str,
    status: str,
    reason: str,
    message: str,
    observed_generation: int | None,
    now: datetime,
) -> tuple[list[Condition], bool]:
    """`conditions` with `type` set as given (order kept, new types appended), and whether anything changed."""
    current = list(conditions or ())
    for index, existing in enumerate(current):
        if existing.type != type:
            continue
        updated = attrs.evolve(
            existing,
            status=status,
            reason=reason,
            message=message,
            observed_generation=observed_generation,
            last_transition_time=format_time(now)
            if existing.status != status
            else existing.last_transition_time,
        )
        current[index] = updated
        return current, updated != existing
    current.append(
        Condition(
            type=type,
            status=status,
            reason=reason,
            message=message,
            observed_generation=observed_generation,
            last_transition_time=format_time(now),
        )
    )
    return current, True


def remove_condition(
    conditions: Sequence[Condition] | None, condition_type: str
) -> tuple[list[Condition], bool]:
    kept = [c for c in conditions or () if c.type != condition_type]
    return kept, len(kept) != len(conditions or ())


def apply_conditions(
    conditions: Sequence[Condition] | None,
    desired: Iterable[DesiredCondition],
    *,
    observed_generation: int | None,
    now: datetime,
) -> list[Condition]:
    """`conditions` with each desired condition set; types not mentioned are kept as they are."""
    current = list(conditions or ())
    for wanted in desired:
        current, _ = set_condition(
            current,
            type=wanted.type,
            status=wanted.status,
            reason=wanted.reason,
            message=wanted.message,
            observed_generation=observed_generation,
            now=now,
        )
    return current


def human_size(size_bytes: int) -> str:
    """1024-based, one decimal: 3435973837 -> "3.2 GiB"; below 1 KiB, whole bytes ("512 B")."""
    if size_bytes < 1024:
        return f"{size_bytes} B"
    value = float(size_bytes)
    unit = "B"
    for unit in _SIZE_UNITS:
        value /= 1024
        # Compare the rounded value, so 1023.97 KiB reads "1.0 MiB" rather than "1024.0 KiB".
        if round(value, 1) < 1024 or unit == _SIZE_UNITS[-1]:
            break
    return f"{value:.1f} {unit}"
