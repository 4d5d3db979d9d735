"""Events: what executing a node did, goflow style.

The interpreter never persists or sends anything itself: each node appends
events to the run's list and the caller decides what to store, send or show.
Effects are events only (there is no port to send a message or tag a
contact): ``message_sent``, ``tag_added``/``tag_removed``, ``attribute_set``,
``priority_set``, ``conversation_closed`` and ``handoff`` fully describe what
the caller must apply (engine/effects.py folds them); `pytake run --trace`
prints them.

Types (``data`` keys in brackets):

- ``node_entered`` [op]
- ``message_sent`` [message: {type, content}]
- ``message_adjusted`` [type, adjustments: [{field, action, limit?, length?}]]: the
  rendered message did not fit WhatsApp's limits and was changed before sending
  (engine/whatsapp_limits.py); the ``message_sent`` events that follow show what went
- ``variable_set`` [name, value]
- ``tag_added`` / ``tag_removed`` [tag]
- ``attribute_set`` [attribute, value]
- ``priority_set`` [priority]
- ``conversation_closed``
- ``handoff`` [department, reason, priority]
- ``api_called`` [method, url, status, ok, error?]
- ``ai_called`` [provider, model, ok, error?, prompt?, response?, latency_ms?, prompt_tokens?,
  completion_tokens?, tokens_used?] (prompt and answer cut to 2,000 characters; ``model`` the one
  that answered; the tokens the provider reported, null without usage; the log store's AI interactions)
- ``flow_entered`` [flow, returns] / ``flow_returned`` [flow]
- ``waiting`` [kind, retries_left, deadline] / ``answer_invalid`` [retries_left]
- ``exit_unconnected`` [handle]: an optional branch with no edge ended the flow
- ``error`` [code, message]: ``code`` one of the error codes below (``flow_not_found``: no such
  flow or version; ``flow_not_compiled``: the sub-flow exists but does not compile, its
  diagnostics in ``message``; ``flow_not_published``: the sub-flow exists but has no
  published version; ``invalid_media_url``: a message's rendered media link is not an
  absolute http(s) URL, so the node sent nothing; the run goes on)
"""

from __future__ import annotations

from typing import Any

NODE_ENTERED = "node_entered"
MESSAGE_SENT = "message_sent"
MESSAGE_ADJUSTED = "message_adjusted"
VARIABLE_SET = "variable_set"
TAG_ADDED = "tag_added"
TAG_REMOVED = "tag_removed"
ATTRIBUTE_SET = "attribute_set"
PRIORITY_SET = "priority_set"
CONVERSATION_CLOSED = "conversation_closed"
HANDOFF = "handoff"
API_CALLED = "api_called"
AI_CALLED = "ai_called"
FLOW_ENTERED = "flow_entered"
FLOW_RETURNED = "flow_returned"
WAITING = "waiting"
ANSWER_INVALID = "answer_invalid"
EXIT_UNCONNECTED = "exit_unconnected"
ERROR = "error"

# Error codes carried by ``error`` events.
STEP_BUDGET_EXCEEDED = "step_budget_exceeded"
CALL_DEPTH_EXCEEDED = "call_depth_exceeded"
FLOW_NOT_FOUND = "flow_not_found"
FLOW_NOT_COMPILED = "flow_not_compiled"
FLOW_NOT_PUBLISHED = "flow_not_published"
INVALID_MEDIA_URL = "invalid_media_url"
PROGRAM_MISMATCH = "program_mismatch"
EXPRESSION_ERROR = "expression_error"
NOT_WAITING = "not_waiting"
BAD_STATE = "bad_state"
UNKNOWN_OP = "unknown_op"
PORT_FAILED = "port_failed"


class Event:
    """One thing that happened at a node. Cheap to create (slots, no copies)."""

    __slots__ = ("type", "node", "data")

    def __init__(self, type: str, node: str | None, data: dict[str, Any] | None = None) -> None:
        self.type = type
        self.node = node
        self.data = data

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default) if self.data else default

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.node is not None:
            out["node"] = self.node
        if self.data:
            out.update(self.data)
        return out

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Event)
            and (self.type, self.node, self.data or {}) == (other.type, other.node, other.data or {})
        )

    def __repr__(self) -> str:
        return f"Event({self.type!r}, {self.node!r}, {self.data!r})"
