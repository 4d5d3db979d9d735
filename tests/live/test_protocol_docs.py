"""docs/live.md's example messages have the shape of what the server really sends."""

from __future__ import annotations

import json
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "live.md"


def _examples() -> dict[str, dict]:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(), re.S)
    return {doc["type"]: doc for doc in map(json.loads, blocks)}


async def test_the_documented_messages_are_the_ones_sent(world, start_api, publisher, connect):
    org = await world.organization()
    support = await world.department(org)
    typist = await world.user(org, "agent", support)
    agent = await world.user(org, "agent", support)
    conversation = await world.conversation(org, support, assigned_to=agent.user_id)
    api = await start_api()
    client = await connect(api.ws_url(agent.token))
    other = await connect(api.ws_url(typist.token))
    await client.ready()
    await other.ready()
    await world.inbound(conversation, "oi")
    await other.send({"type": "typing", "conversation_id": str(conversation)})
    await client.send({"type": "typing", "conversation_id": "not-a-uuid"})
    await client.wait(lambda: client.events(conversation) and client.of("typing") and client.of("error"),
                      "an event, a typing and an error")

    examples = _examples()
    assert set(examples) == {"ready", "event", "typing", "error"}
    for kind, example in examples.items():
        real = client.of(kind)[0]
        assert set(real) == set(example), kind
    real_event = client.events(conversation)[0]["event"]
    assert set(real_event) == set(examples["event"]["event"])
    assert set(real_event["data"]["message"]) == set(examples["event"]["event"]["data"]["message"])
