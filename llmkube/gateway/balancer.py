"""Which ready endpoint of a service gets a request: the least busy one, or the sticky one while it is not much
busier.

Least outstanding requests: each gateway replica counts the requests it has sent to each endpoint and not yet
seen finish, and picks the smallest count. With llama-server that is the right signal: a slot is either busy or
free, and requests on one server queue behind each other, so fewer outstanding means an earlier start. Ties go
round-robin (`turn`), so sequential requests on an idle service still spread over its replicas.

Stickiness (optional): requests with the same prompt prefix key prefer one endpoint, chosen by rendezvous
hashing (the endpoint with the highest hash of key and address). Rendezvous hashing moves only the keys of an
endpoint that appears or disappears, so a scale-up does not reshuffle every conversation away from the server that
holds its prompt cache. The preferred endpoint is taken only while it has at most `sticky_slack` more outstanding
requests than the least busy one; past that bound the cost of waiting outweighs the saved prompt evaluation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence


def rendezvous_order(key: int, endpoints: Sequence[str]) -> list[str]:
    """Endpoints by descending preference for `key`; stable for a given set, whatever its order."""
    return sorted(endpoints, key=lambda endpoint: (-_weight(key, endpoint), endpoint))


def choose_endpoint(
    endpoints: Sequence[str],
    outstanding: Mapping[str, int],
    *,
    prefix_key: int | None = None,
    sticky_slack: int | None = None,
    turn: int = 0,
) -> str:
    """The endpoint for the next request; `sticky_slack` None turns stickiness off. `endpoints` must not be empty."""
    if not endpoints:
        raise ValueError("no endpoint to choose from")
    ordered = sorted(endpoints)
    least = min(outstanding.get(e, 0) for e in ordered)
    if prefix_key is not None and sticky_slack is not None:
        preferred = rendezvous_order(prefix_key, ordered)[0]
        if outstanding.get(preferred, 0) <= least + sticky_slack:
            return preferred
    idle = [e for e in ordered if outstanding.get(e, 0) == least]
    return idle[turn % len(idle)]


def _weight(key: int, endpoint: str) -> int:
    digest = hashlib.blake2b(f"{key}|{endpoint}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
