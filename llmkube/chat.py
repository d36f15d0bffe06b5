"""A conversation with a served model: history, one-shot questions and the interactive loop.

The terminal is reached only through the callables passed in (`write` for streamed answer text, `notice` for
everything else, `read_line` for input), so the loop runs the same under tests as in a shell.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import attrs

from llmkube.inference import ChatClient, ChatMessage, ChatRequest, Completion, InferenceError

Write = Callable[[str], None]
ReadLine = Callable[[str], Awaitable[str | None]]  # None: the user closed the input (Ctrl-D)

PROMPT = ">>> "
HELP = "Commands: /clear forgets the conversation, /exit (or Ctrl-D) leaves."


@attrs.frozen(kw_only=True)
class ChatSettings:
    #: Sent as the request's `model`: what a gateway routes by.
    model: str | None = None
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None


class Conversation:
    """The messages so far; a question whose answer failed is taken back so a retry does not send it twice."""

    def __init__(self, *, system: str | None) -> None:
        self._system = system
        self._turns: list[ChatMessage] = []

    @property
    def messages(self) -> tuple[ChatMessage, ...]:
        head = (ChatMessage(role="system", content=self._system),) if self._system else ()
        return (*head, *self._turns)

    def clear(self) -> None:
        self._turns.clear()

    async def ask(
        self, question: str, *, client: ChatClient, settings: ChatSettings, write: Write
    ) -> Completion:
        self._turns.append(ChatMessage(role="user", content=question))
        request = ChatRequest(
            messages=self.messages,
            model=settings.model,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            stream=True,
        )
        try:
            completion = await client.complete(request, on_text=write)
        except BaseException:
            self._turns.pop()
            raise
        self._turns.append(ChatMessage(role="assistant", content=completion.text))
        return completion


async def read_terminal_line(prompt: str) -> str | None:
    def read() -> str | None:
        try:
            return input(prompt)
        except EOFError:
            return None

    # input() blocks; in a worker thread it leaves the event loop free (and cancellable) meanwhile.
    return await anyio.to_thread.run_sync(read, abandon_on_cancel=True)


async def chat_loop(
    *,
    client: ChatClient,
    settings: ChatSettings,
    read_line: ReadLine,
    write: Write,
    notice: Write,
) -> None:
    """Reads questions until /exit or end of input. A failed answer is reported and the loop goes on: the
    server may recover (a restarting pod), and the history stays intact."""
    conversation = Conversation(system=settings.system)
    notice(f"Chatting with {client.base_url}. {HELP}")
    while True:
        line = await read_line(PROMPT)
        if line is None:
            write("\n")
            return
        question = line.strip()
        if not question:
            continue
        if question in ("/exit", "/quit", "/bye"):
            return
        if question == "/clear":
            conversation.clear()
            notice("Conversation cleared.")
            continue
        if question in ("/help", "/?"):
            notice(HELP)
            continue
        try:
            await conversation.ask(question, client=client, settings=settings, write=write)
        except InferenceError as exc:
            write("\n")
            notice(f"error: {exc}")
            continue
        write("\n")
