"""Lease validity is judged by when we observed the record change, never by the holder's timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controller.runtime.leaderelection import LeaderElectionConfig, lease_is_held_by_other, micro_time

SPEC = {"holderIdentity": "other", "leaseDurationSeconds": 15, "renewTime": "1999-01-01T00:00:00.000000Z"}


def test_lease_of_another_holder_is_valid_within_duration_of_our_observation() -> None:
    assert lease_is_held_by_other(SPEC, identity="me", observed_at=100.0, now=114.0, default_duration=15)


def test_lease_expires_duration_after_our_observation_whatever_its_renew_time_says() -> None:
    assert not lease_is_held_by_other(SPEC, identity="me", observed_at=100.0, now=115.5, default_duration=15)


def test_a_released_lease_is_free_at_once() -> None:
    released = {"leaseDurationSeconds": 1}
    assert not lease_is_held_by_other(
        released, identity="me", observed_at=100.0, now=100.0, default_duration=15
    )


def test_our_own_lease_is_never_held_by_other() -> None:
    assert not lease_is_held_by_other(
        {**SPEC, "holderIdentity": "me"}, identity="me", observed_at=100.0, now=100.0, default_duration=15
    )


def test_config_refuses_a_renew_deadline_longer_than_the_lease() -> None:
    with pytest.raises(ValueError, match="lease_duration > renew_deadline"):
        LeaderElectionConfig(namespace="ns", name="l", identity="me", lease_duration=10, renew_deadline=12)


def test_micro_time_has_microseconds_and_zulu() -> None:
    assert micro_time(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2026-01-02T03:04:05.000006Z"
