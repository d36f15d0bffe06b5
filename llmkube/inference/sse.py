"""Incremental decoder for server-sent events, the framing of OpenAI-style streaming responses.

Network reads cut the stream anywhere: inside a line, inside a `\\r\\n` pair, inside a multi-byte UTF-8
character. The decoder therefore keeps three kinds of state between `feed` calls: undecoded bytes (in the
incremental UTF-8 decoder), an unfinished line, and the fields of the event being assembled. It follows the
WHATWG event-stream rules: lines end in CR, LF or CRLF; a blank line dispatches the event; lines starting with
`:` are comments (servers send them as keep-alives); several `data:` lines join with newlines.
"""

from __future__ import annotations

import codecs

import attrs

DONE = "[DONE]"


@attrs.frozen(kw_only=True)
class SseEvent:
    data: str
    event: str = "message"

    @property
    def is_done(self) -> bool:
        """OpenAI's end-of-stream sentinel, sent as data rather than by closing the connection."""
        return self.data.strip() == DONE


class SseDecoder:
    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line = ""  # text after the last complete line; never contains CR or LF, except a trailing CR
        self._data: list[str] = []  # `data` field values of the event being assembled
        self._event = ""

    def feed(self, chunk: bytes) -> list[SseEvent]:
        return self._consume(self._utf8.decode(chunk))

    def close(self) -> list[SseEvent]:
        """Flushes the stream's end. An event missing its final blank line is still delivered: some servers
        close the connection right after the last `data:` line."""
        events = self._consume(self._utf8.decode(b"", final=True))
        if self._line:
            self._take_line(self._line.rstrip("\r"), events)
            self._line = ""
        self._dispatch(events)
        return events

    def _consume(self, text: str) -> list[SseEvent]:
        events: list[SseEvent] = []
        buffer = self._line + text
        start = 0
        length = len(buffer)
        while start < length:
            cr = buffer.find("\r", start)
            lf = buffer.find("\n", start)
            ends = [i for i in (cr, lf) if i != -1]
            if not ends:
                break
            end = min(ends)
            if buffer[end] == "\r":
                if end + 1 == length:
                    break  # a CR at the very end may be the first half of CRLF: wait for the next chunk
                step = 2 if buffer[end + 1] == "\n" else 1
            else:
                step = 1
            self._take_line(buffer[start:end], events)
            start = end + step
        self._line = buffer[start:]
        return events

    def _take_line(self, line: str, events: list[SseEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line.startswith(":"):
            return
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        # `id` and `retry` steer reconnection, which a one-shot completion request never does.

    def _dispatch(self, events: list[SseEvent]) -> None:
        if self._data:
            events.append(SseEvent(data="\n".join(self._data), event=self._event or "message"))
        self._data = []
        self._event = ""
