"""Diagnostics: every problem the compiler finds, as a value with a position.

A `Diagnostic` names a stable `code` (like a linter's rule id), its severity,
the canvas node it is about, a JSON pointer into the canvas, a message and an
optional hint. `CODES` is the catalogue of every code with its severity and
what it means; `pytake lint --list-codes` prints it and `examples/broken/`
holds one canvas per code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    node_id: str | None
    path: str
    message: str
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class CodeInfo(NamedTuple):
    severity: Severity
    description: str


CODES: dict[str, CodeInfo] = {
    # load + validate
    "invalid-json": CodeInfo("error", "The file is not valid JSON."),
    "invalid-canvas": CodeInfo(
        "error",
        "The canvas does not have React Flow's shape (nodes with id, type, position, data; "
        "edges with id, source, target), or holds values that are not JSON.",
    ),
    "unknown-node-type": CodeInfo("error", "A node's type is not one of the ten node types."),
    "invalid-node-data": CodeInfo(
        "error", "A node's data does not match its type's schema (flow_schemas/nodes/<type>.schema.json)."
    ),
    "unknown-action": CodeInfo("error", "An action node names an action that does not exist."),
    "whatsapp-limit": CodeInfo(
        "error",
        "A WhatsApp limit is exceeded: at most 3 reply buttons (title ≤ 20), 10 list rows "
        "(title ≤ 24, description ≤ 72, button ≤ 20), interactive body ≤ 1024, text ≤ 4096, "
        "header/footer ≤ 60.",
    ),
    "duplicate-node-id": CodeInfo("error", "Two nodes share an id."),
    "duplicate-edge-id": CodeInfo("error", "Two edges share an id."),
    "duplicate-choice-id": CodeInfo(
        "error",
        "Two buttons, list rows, options or cases of one node share an id, or an option/case id "
        "clashes with a built-in handle name.",
    ),
    # graph
    "no-start": CodeInfo("error", "The flow has no start node."),
    "multiple-starts": CodeInfo("error", "The flow has more than one start node."),
    "edge-missing-node": CodeInfo("error", "An edge leaves from or goes to a node that does not exist."),
    "unknown-handle": CodeInfo("error", "An edge leaves through a handle its node type does not have."),
    "edge-from-terminal": CodeInfo("error", "An end or handoff node has an outgoing edge; it is never taken."),
    "ambiguous-branch": CodeInfo("error", "Two edges leave the same handle of a node."),
    "handle-unconnected": CodeInfo("error", "A required handle (e.g. a condition's true/false) has no edge."),
    "edge-never-taken": CodeInfo(
        "warning", "An edge leaves a jump that never continues through it (a node jump, or a flow jump without return)."
    ),
    "unreachable-node": CodeInfo("warning", "No path from the start node reaches this node; it is not compiled."),
    "dead-end": CodeInfo(
        "warning",
        "A reachable node that is not an end or handoff has no outgoing edge at all, so the run silently "
        "stops after it (connect it, or add an end node).",
    ),
    "silent-exit": CodeInfo(
        "warning",
        "A question's `invalid` (or, with a timeout, `timeout`) handle or an api_call/ai_prompt's `error` "
        "handle has no edge: a customer who takes it is left in silence.",
    ),
    "infinite-loop": CodeInfo(
        "error", "A cycle contains no question, so the run would loop forever without waiting for the customer "
                 "(within the flow, or through jumps to flows: a → a, a → b → a, checked when the flows are known)."
    ),
    "recursive-call": CodeInfo(
        "warning", "A jump with return runs a flow that runs this flow again (a menu jumping back to itself): "
                   "each round nests one more sub-flow, and the 9th stops the run (checked when the flows are known)."),
    "jump-unknown-node": CodeInfo("error", "A jump targets a node that does not exist in this flow."),
    "jump-unknown-flow": CodeInfo("error", "A jump targets a flow that is not known (checked when the flow list is known)."),
    "unknown-department": CodeInfo(
        "warning", "A handoff names a department the organization does not have (checked when the departments "
                   "are known: saving in an organization, `pytake lint --departments`)."),
    "template-unknown": CodeInfo(
        "warning", "A message sends a template the organization does not have in that language (checked when the "
                   "templates are known: saving in an organization, `pytake lint --templates`)."),
    "template-not-approved": CodeInfo(
        "warning", "A message sends a template Meta has not approved (pending, rejected, paused or disabled): "
                   "the run reports an error there instead of sending it."),
    "template-parameters": CodeInfo(
        "error", "A message's template parameters do not match the approved template (body {{n}} count, a TEXT "
                 "header's {{1}}, a media header's URL): Meta would refuse every send (132000)."),
    "variable-unset": CodeInfo(
        "warning", "A variable is read on a path from the start where no node has set it yet (it will be null)."
    ),
    # node contents
    "invalid-expression": CodeInfo(
        "error",
        "An expression or {{template}} does not parse, names an unknown namespace, or calls an unknown "
        "function (or with the wrong number of arguments).",
    ),
    "invalid-regex": CodeInfo("error", "A question's pattern is not a valid (or safe) regular expression."),
    "api-body-dollar-key": CodeInfo("error", "An api_call body has an object key starting with `$` (reserved)."),
}


def make(code: str, node_id: str | None, path: str, message: str, hint: str | None = None) -> Diagnostic:
    """A diagnostic for a catalogued code, with the code's severity."""
    return Diagnostic(code, CODES[code].severity, node_id, path, message, hint)


def pointer(*parts: Any) -> str:
    """A JSON pointer (RFC 6901) from path parts: pointer("nodes", 3, "data") == "/nodes/3/data"."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def sort_key(d: Diagnostic) -> tuple:
    return (d.node_id or "", d.path, d.code, d.message)
