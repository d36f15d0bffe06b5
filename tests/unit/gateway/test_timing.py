"""The Server-Timing header: what the gateway writes reads back the same, and foreign entries do not break it."""

from __future__ import annotations

from llmkube.gateway.timing import parse_server_timing, server_timing


def test_the_gateways_header_reads_back_in_milliseconds() -> None:
    assert parse_server_timing(server_timing(queued=0.0125, upstream=1.5)) == {
        "queue": 12.5,
        "upstream": 1500.0,
    }


def test_entries_from_other_servers_and_without_durations_are_tolerated() -> None:
    value = 'cache;desc="Cache Read";dur=23.2, db;dur=53, app;dur="47.2", miss, cpu;dur=oops'
    assert parse_server_timing(value) == {"cache": 23.2, "db": 53.0, "app": 47.2}
