from __future__ import annotations

from collections.abc import Callable

import pytest

from llmkube.chat import ChatSettings, Conversation, chat_loop
from llmkube.inference import ChatClient, ChatRequest, Completion, ServerError


class ScriptedClient:
    """Answers with canned text, streaming it word by word, and remembers what it was sent."""

    base_url = "http://model"

    def __init__(self, answers: list[str | Exception]) -> None:
        self.answers = answers
        self.requests: list[ChatRequest] = []

    async def complete(
        self, request: ChatRequest, *, on_text: Callable[[str], None] | None = None
    ) -> Completion:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        for word in answer.split(" "):
            if on_text:
                on_text(word + " ")
        return Completion(
            text=answer,
            model="m",
            finish_reason="stop",
            usage=None,
            timings=None,
            ttft_s=0.1,
            latency_s=0.2,
            chunks=1,
        )


def as_client(client: ScriptedClient) -> ChatClient:
    return client  # type: ignore[return-value]


async def test_history_carries_the_system_prompt_and_previous_turns() -> None:
    client = ScriptedClient(["Paris.", "About 2 million."])
    conversation = Conversation(system="Be brief.")
    settings = ChatSettings(max_tokens=16)
    await conversation.ask(
        "Capital of France?", client=as_client(client), settings=settings, write=lambda _: None
    )
    await conversation.ask("Population?", client=as_client(client), settings=settings, write=lambda _: None)
    sent = [(m.role, m.content) for m in client.requests[1].messages]
    assert sent == [
        ("system", "Be brief."),
        ("user", "Capital of France?"),
        ("assistant", "Paris."),
        ("user", "Population?"),
    ]
    assert client.requests[1].max_tokens == 16


async def test_a_failed_question_is_taken_back_from_the_history() -> None:
    client = ScriptedClient([ServerError("HTTP 503: loading", status=503)])
    conversation = Conversation(system=None)
    with pytest.raises(ServerError):
        await conversation.ask("hi", client=as_client(client), settings=ChatSettings(), write=lambda _: None)
    assert conversation.messages == ()


async def test_loop_streams_answers_survives_errors_and_stops_at_exit() -> None:
    client = ScriptedClient([ServerError("HTTP 503: loading", status=503), "Hello there"])
    lines = iter(["", "hi", "hi again", "/exit", "never read"])
    written: list[str] = []
    notices: list[str] = []

    async def read_line(prompt: str) -> str | None:
        return next(lines)

    await chat_loop(
        client=as_client(client),
        settings=ChatSettings(),
        read_line=read_line,
        write=written.append,
        notice=notices.append,
    )
    assert "".join(written).strip() == "Hello there"
    assert any("HTTP 503: loading" in n for n in notices)
    assert next(lines) == "never read"


async def test_clear_forgets_the_conversation() -> None:
    client = ScriptedClient(["one", "two"])
    lines = iter(["first", "/clear", "second", None])

    async def read_line(prompt: str) -> str | None:
        return next(lines)

    await chat_loop(
        client=as_client(client),
        settings=ChatSettings(),
        read_line=read_line,
        write=lambda _: None,
        notice=lambda _: None,
    )
    assert [m.content for m in client.requests[1].messages] == ["second"]
