from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llmkube.gateway.balancer import choose_endpoint, rendezvous_order

A, B, C = "10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"


def test_the_endpoint_with_the_fewest_outstanding_requests_wins() -> None:
    assert choose_endpoint([A, B, C], {A: 3, B: 1, C: 2}) == B


def test_ties_rotate_so_an_idle_service_spreads_sequential_requests() -> None:
    chosen = {choose_endpoint([A, B, C], {}, turn=turn) for turn in range(3)}
    assert chosen == {A, B, C}


def test_a_prefix_sticks_to_one_endpoint() -> None:
    picks = {choose_endpoint([A, B, C], {}, prefix_key=42, sticky_slack=2, turn=t) for t in range(5)}
    assert len(picks) == 1


def test_a_sticky_endpoint_busier_than_the_slack_allows_is_passed_over() -> None:
    preferred = rendezvous_order(42, [A, B, C])[0]
    others = [e for e in (A, B, C) if e != preferred]
    outstanding = {preferred: 3, others[0]: 0, others[1]: 1}

    assert choose_endpoint([A, B, C], outstanding, prefix_key=42, sticky_slack=2) == others[0]


def test_a_sticky_endpoint_within_the_slack_is_kept() -> None:
    preferred = rendezvous_order(42, [A, B, C])[0]
    outstanding = {e: 0 for e in (A, B, C)} | {preferred: 2}

    assert choose_endpoint([A, B, C], outstanding, prefix_key=42, sticky_slack=2) == preferred


def test_without_stickiness_the_prefix_is_ignored() -> None:
    preferred = rendezvous_order(42, [A, B])[0]
    other = B if preferred == A else A

    assert choose_endpoint([A, B], {preferred: 1}, prefix_key=42, sticky_slack=None) == other


@given(st.integers(min_value=0, max_value=2**64 - 1), st.permutations([A, B, C]))
def test_the_preferred_endpoint_does_not_depend_on_the_listing_order(key: int, order: list[str]) -> None:
    assert rendezvous_order(key, order) == rendezvous_order(key, [A, B, C])


@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=1, max_size=50))
def test_removing_an_endpoint_moves_only_the_keys_it_held(keys: list[int]) -> None:
    before = {key: rendezvous_order(key, [A, B, C])[0] for key in keys}
    after = {key: rendezvous_order(key, [A, B])[0] for key in keys}

    assert all(after[key] == before[key] for key in keys if before[key] != C)
