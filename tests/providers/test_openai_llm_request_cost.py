"""What sending a chat request costs the event loop, against the simulated cloud over a real
socket with the official SDK.

The request is sent on the loop that also hears the person and feeds the speaker, between the
end of their words and the model's first token. The SDK's ``create()`` walks every message,
tool call and tool definition through its type-directed transform before anything is written
(a copy of plain JSON, for the dicts voicedesk builds): the walk grew with the conversation,
about 20 ms at turn 30 of a tool conversation on this machine and 40 ms at turn 60 (up to
0.11 s with other work on the two cores).
Counted in calls, not timed: a count does not depend on how busy the machine is. Sent with
``client.post`` instead, the request must still be the one ``create`` would have sent.
"""

from __future__ import annotations

import contextlib
import cProfile
import json
import pstats
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from local_http import serving

from voicedesk.providers.base import ChatRequest, TextDelta
from voicedesk.providers.openai_llm import OpenAIChat
from voicedesk.sim.server import SimLatency, SimServer

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": f"docs__tool_{i}",
            "description": "A documents tool.",
            "parameters": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "the document"},
                    "lines": {"type": "array", "items": {"type": "integer"}},
                },
                "required": ["path"],
            },
        },
    }
    for i in range(8)
]


def conversation(turns: int) -> list[dict[str, Any]]:
    """A system prompt, then ``turns`` turns that each read a document, and a question."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a voice assistant."}]
    for i in range(turns):
        call = {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": "docs__tool_0", "arguments": '{"path": "notes.md"}'},
        }
        messages += [
            {"role": "user", "content": f"What does my note number {i} say?"},
            {"role": "assistant", "content": "Let me look.", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"call_{i}", "content": "Buy milk. " * 20},
            {"role": "assistant", "content": "It says to buy milk."},
        ]
    messages.append({"role": "user", "content": "And the next one?"})
    return messages


@pytest.fixture
async def sim():
    fast = SimLatency(stt_s=0.02, ttft_s=0.05, tokens_per_s=500, ttfb_s=0.05, tts_rtf=0.0)
    async with SimServer(None, fast) as server:
        yield server


async def sdk_calls_to_first_words(llm: OpenAIChat, messages: list[dict[str, Any]]) -> int:
    """Python calls made in the openai SDK from the request to its first words."""
    profile = cProfile.Profile()
    request = ChatRequest(messages=messages, tools=TOOLS, max_tokens=100)
    profile.enable()
    try:
        async with contextlib.aclosing(llm.stream(request)) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    break
    finally:
        profile.disable()
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    return sum(
        calls
        for (path, _, _), (_, calls, *_) in stats.items()
        if "/openai/" in path.replace("\\", "/")
    )


async def test_a_chat_requests_client_work_does_not_grow_with_the_conversation(sim):
    llm = OpenAIChat(api_key="sk-test", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
    await llm.warm()
    try:
        await sdk_calls_to_first_words(llm, conversation(1))  # first use: nothing cached yet
        short = await sdk_calls_to_first_words(llm, conversation(1))
        long = await sdk_calls_to_first_words(llm, conversation(40))
    finally:
        await llm.aclose()
    # the same request, 160 messages longer, must be sent with about the same work
    assert long - short < 100, (short, long)
    # and it was sent whole: the server got every message and every tool
    body = sim.chat_requests()[-1]
    assert len(body["messages"]) == 1 + 4 * 40 + 1
    assert body["messages"][2]["tool_calls"][0]["function"]["name"] == "docs__tool_0"
    assert [t["function"]["name"] for t in body["tools"]] == [f"docs__tool_{i}" for i in range(8)]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@contextlib.asynccontextmanager
async def recording_server() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A chat endpoint on a real socket that keeps each request's headers and body as they
    came (the simulated cloud keeps the parsed body only) and answers one streamed word."""
    seen: list[tuple[dict[str, str], bytes]] = []

    async def chat(request: web.Request) -> web.StreamResponse:
        seen.append(({k.lower(): v for k, v in request.headers.items()}, await request.read()))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for delta, finish in (({"content": "Hi."}, None), ({}, "stop")):
            chunk = {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async with serving("/v1/chat/completions", chat) as url:
        yield f"{url}/v1", seen


async def test_the_chat_request_is_the_one_create_would_have_sent(monkeypatch):
    """``client.post`` skips ``create``, and with it whatever ``create`` adds to a request:
    the key (``security``), headers, the body. Sent both ways, the two must not differ, on
    every openai version pyproject allows; the simulated cloud takes a request with no key
    at all, so only this comparison notices one sent without it."""
    monkeypatch.setenv("OPENAI_ORG_ID", "org-test")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-test")
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-test")  # must not go with a chat
    messages = conversation(2)
    messages[3]["reasoning_content"] = "The note is a file."  # thinking sent back (DeepSeek)
    messages[-1]["content"] = [
        {"type": "text", "text": "And this one? é 😀"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    request = ChatRequest(messages=messages, tools=TOOLS, max_tokens=100, temperature=0.4)
    async with recording_server() as (base_url, seen):
        llm = OpenAIChat(api_key="sk-test", model="gpt-4o-mini", base_url=base_url)
        try:
            async with contextlib.aclosing(llm.stream(request)) as events:
                said = [e.text async for e in events if isinstance(e, TextDelta)]
            sent = json.loads(seen[0][1])
            stream = await llm._client.chat.completions.create(**sent)
            async for _ in stream:
                pass
        finally:
            await llm.aclose()
    assert said == ["Hi."]
    (posted_headers, posted), (created_headers, created) = seen
    assert json.loads(posted) == json.loads(created)
    assert sent["messages"] == messages and sent["tools"] == TOOLS
    assert posted_headers == created_headers
    assert posted_headers["authorization"] == "Bearer sk-test"
    assert posted_headers["openai-organization"] == "org-test"
    assert posted_headers["openai-project"] == "proj-test"
