from __future__ import annotations

import pytest

from llmkube.inference import SseDecoder, SseEvent

STREAM = (
    ": keep-alive\n\n"
    'data: {"choices":[{"delta":{"content":"h\u00e9llo \u2603"}}]}\n\n'
    "event: note\r\ndata: first\r\ndata: second\r\n\r\n"
    "data: [DONE]\n\n"
).encode()
EXPECTED = [
    SseEvent(data='{"choices":[{"delta":{"content":"h\u00e9llo \u2603"}}]}'),
    SseEvent(data="first\nsecond", event="note"),
    SseEvent(data="[DONE]"),
]


def decode_in_pieces(pieces: list[bytes]) -> list[SseEvent]:
    decoder = SseDecoder()
    events: list[SseEvent] = []
    for piece in pieces:
        events += decoder.feed(piece)
    return events + decoder.close()


def test_whole_stream_decodes_to_its_events() -> None:
    assert decode_in_pieces([STREAM]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_a_cut_anywhere_yields_the_same_events(cut: int) -> None:
    # Cuts land inside lines, between CR and LF, and inside multi-byte UTF-8 characters.
    assert decode_in_pieces([STREAM[:cut], STREAM[cut:]]) == EXPECTED


def test_byte_at_a_time_yields_the_same_events() -> None:
    assert decode_in_pieces([bytes([b]) for b in STREAM]) == EXPECTED


def test_comments_alone_produce_no_events() -> None:
    assert decode_in_pieces([b": ping\n\n:\n\n"]) == []


def test_lone_carriage_returns_end_lines() -> None:
    assert decode_in_pieces([b"data: a\r\rdata: b\r\r"]) == [SseEvent(data="a"), SseEvent(data="b")]


def test_last_event_without_blank_line_is_delivered_at_close() -> None:
    assert decode_in_pieces([b"data: tail"]) == [SseEvent(data="tail")]


def test_value_keeps_everything_after_the_first_space() -> None:
    assert decode_in_pieces([b"data:  two spaces\n\ndata:none\n\n"]) == [
        SseEvent(data=" two spaces"),
        SseEvent(data="none"),
    ]


def test_done_sentinel_is_recognised() -> None:
    assert SseEvent(data="[DONE]").is_done
    assert not SseEvent(data='{"done": true}').is_done
