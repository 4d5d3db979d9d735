"""Stage 3, lower: node data → instruction arguments, graph → linear code.

`lower_nodes` compiles each node's data into its instruction argument as
flow_schemas/README.md ("Compiled form") says: defaults filled, `label`
dropped, ⟨T⟩ strings containing ``{{`` → ``{"$tpl": AST}``, ⟨E⟩ strings →
``{"$expr": AST}``, every condition form → ``{"cases": [...], "default"}``.
It also collects the variables each node reads (for the dataflow check) and
reports expression, regex and api_call body problems.

`layout` orders the reachable nodes by a deterministic walk from the start,
main handles first so the usual path falls through; `instructions` turns that
order into `engine.program.Instruction`s with exits resolved to pcs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from compiler.diagnostics import Diagnostic, make, pointer
from compiler.expressions import ExpressionSyntaxError, parse_expression, parse_template
from compiler.graph import FlowGraph
from compiler.load import Canvas, Node
from compiler.node_types import PRIMARY_HANDLES
from engine.expressions import regex_problem
from engine.urls import http_url_problem
from engine.program import Instruction, Op


# Functions whose first argument may be null on purpose: reading an unset
# variable through them is not a mistake worth a warning.
_NULL_GUARDS = frozenset({"default", "coalesce", "is_empty"})


@dataclass
class LoweredNodes:
    args: dict[str, Any] = field(default_factory=dict)
    reads: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


class _NodeLowering:
    """Lowers one node, collecting its diagnostics and variable reads."""

    def __init__(self, node: Node, out: LoweredNodes) -> None:
        self.node = node
        self.out = out
        self.reads = out.reads.setdefault(node.id, [])

    def where(self, *parts: Any) -> str:
        return pointer("nodes", self.node.index, "data", *parts)

    def _parse(self, wrapper: str, source: str, parts: tuple) -> Any:
        ast, reads, error = parsed(wrapper, source)
        if error is not None:
            message, line, column, hint = error
            field_name = ".".join(str(p) for p in parts) or "data"
            self.out.diagnostics.append(make(
                "invalid-expression", self.node.id, self.where(*parts),
                f"{self.node.type} {field_name}: {message} (line {line}, column {column})", hint,
            ))
            return source
        if reads:
            where = self.where(*parts)
            self.reads.extend((name, where) for name in reads)
        return {wrapper: ast}

    def tpl(self, value: Any, *parts: Any) -> Any:
        """A ⟨T⟩ field: parsed when it holds ``{{``, else left as it is."""
        if isinstance(value, str) and "{{" in value:
            return self._parse("$tpl", value, parts)
        return value

    def expr(self, value: Any, *parts: Any) -> Any:
        """An ⟨E⟩ field."""
        if isinstance(value, str):
            return self._parse("$expr", value, parts)
        return value

    def fail(self, code: str, parts: tuple, message: str, hint: str | None = None) -> None:
        self.out.diagnostics.append(make(code, self.node.id, self.where(*parts), message, hint))


def parsed(wrapper: str, source: str) -> tuple[Any, tuple[str, ...], tuple | None]:
    """(AST, variables read unguarded, error) of a template ("$tpl") or expression ("$expr").

    Parsing is the compiler's most expensive step, and flows are recompiled
    on every save with mostly unchanged text: results for sources up to
    `_CACHED_SOURCE_LENGTH` characters are memoised (bounded memory). The
    ASTs are shared between programs, so they are never mutated.
    """
    if len(source) <= _CACHED_SOURCE_LENGTH:
        return _parsed_cached(wrapper, source)
    return _parse(wrapper, source)


_CACHED_SOURCE_LENGTH = 2048


def _parse(wrapper: str, source: str) -> tuple[Any, tuple[str, ...], tuple | None]:
    parse = parse_template if wrapper == "$tpl" else parse_expression
    try:
        ast = parse(source)
    except ExpressionSyntaxError as exc:
        return None, (), (exc.message, exc.line, exc.column, exc.hint)
    return ast, tuple(sorted(unguarded_variables(ast))), None


_parsed_cached = lru_cache(maxsize=4096)(_parse)


def clear_parse_cache() -> None:
    """Forget memoised parses (benchmarks measure cold compiles with it)."""
    _parsed_cached.cache_clear()


def lower_nodes(canvas: Canvas) -> LoweredNodes:
    """Compile the data of every schema-valid node (invalid ones are already reported)."""
    out = LoweredNodes()
    for node in canvas.nodes.values():
        lower = _LOWER.get(node.type)
        if lower is None or not node.valid:
            continue
        arg = json_copy(node.data)
        arg.pop("label", None)
        out.args[node.id] = lower(_NodeLowering(node, out), arg)
    return out


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (load has checked it is JSON), several times faster than deepcopy."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


# -- one function per node type ------------------------------------------------


def _start(lo: _NodeLowering, arg: dict) -> dict:
    return arg


def _message(lo: _NodeLowering, arg: dict) -> dict:
    if "text" in arg:
        arg["text"] = lo.tpl(arg["text"], "text")
    if "media_url" in arg:
        _check_media_url(lo, arg["media_url"], ("media_url",))
        arg["media_url"] = lo.tpl(arg["media_url"], "media_url")
        arg.setdefault("media_type", "image")
    for i, button in enumerate(arg.get("buttons", ())):
        button["title"] = lo.tpl(button["title"], "buttons", i, "title")
    if "template" in arg:
        _template(lo, arg["template"])
    return arg


def _template(lo: _NodeLowering, template: dict) -> None:
    """A message's template: its language defaulted, every parameter a ⟨T⟩ rendered at run time."""
    template.setdefault("language", "pt_BR")
    for i, value in enumerate(template.get("parameters", ())):
        template["parameters"][i] = lo.tpl(value, "template", "parameters", i)
    if isinstance(template.get("header_media_url"), str):
        _check_media_url(lo, template["header_media_url"], ("template", "header_media_url"))
    for key in ("header", "header_media_url"):
        if key in template:
            template[key] = lo.tpl(template[key], "template", key)
    place = template.get("header_location")
    for key in ("name", "address"):
        if isinstance(place, dict) and key in place:
            place[key] = lo.tpl(place[key], "template", "header_location", key)
    for i, button in enumerate(template.get("buttons", ())):
        button["text"] = lo.tpl(button["text"], "template", "buttons", i, "text")


def _shown_url(url: str) -> str:
    """A URL as a diagnostic quotes it: at most 80 characters."""
    return url if len(url) <= 80 else url[:77] + "..."


def _check_media_url(lo: _NodeLowering, url: str, parts: tuple) -> None:
    """A media link WhatsApp fetches itself: a literal must be an absolute http(s) URL (Meta refuses
    anything else at send time, error 131009); a template must at least start like one (what it
    renders to is checked when the message is sent)."""
    leading = url.split("{{", 1)[0]
    if "{{" in url:
        start = leading.lower()
        if not start or start.startswith(("http://", "https://")) or "https://".startswith(start) \
                or "http://".startswith(start):
            return
        problem = "does not start with http:// or https://"
    else:
        problem = http_url_problem(url)
        if problem is None:
            return
    field_name = ".".join(parts)
    lo.fail("invalid-node-data", parts,
            f"{lo.node.type} {lo.node.id!r} {field_name}: {_shown_url(url)!r} {problem}; WhatsApp fetches media "
            "only from an absolute http(s) link and refuses any other (error 131009)",
            "use the full address, e.g. https://example.com/menu.jpg")


def _question(lo: _NodeLowering, arg: dict) -> dict:
    arg["text"] = lo.tpl(arg["text"], "text")
    if "options" in arg:
        arg["validation"] = "option"
    else:
        arg.setdefault("validation", "text")
    if "retry_message" in arg:  # absent: the engine says it in the chatbot's language
        arg["retry_message"] = lo.tpl(arg["retry_message"], "retry_message")
    arg.setdefault("max_retries", 2)
    if "pattern" in arg:
        problem = regex_problem(arg["pattern"])
        if problem:
            lo.fail("invalid-regex", ("pattern",), f"question pattern: {problem}",
                    "Python `re` syntax; the whole answer must match")
    return arg


def _condition(lo: _NodeLowering, arg: dict) -> dict:
    if "cases" in arg:
        cases = [{"id": case["id"], "when": _case_when(lo, case, ("cases", i))}
                 for i, case in enumerate(arg["cases"])]
        return {"cases": cases, "default": "default"}
    return {"cases": [{"id": "true", "when": _case_when(lo, arg, ())}], "default": "false"}


def _case_when(lo: _NodeLowering, rule: dict, parts: tuple) -> Any:
    if "expression" in rule:
        return lo.expr(rule["expression"], *parts, "expression")
    subject, _, error = parsed("$expr", rule["variable"])
    if error is not None:
        message, line, column, hint = error
        lo.fail("invalid-expression", parts + ("variable",),
                f"condition variable: {message} (line {line}, column {column})", hint)
        return None
    if subject[0] != "path":
        lo.fail("invalid-expression", parts + ("variable",), "condition variable must name a variable or a path")
        return None
    operator = rule["operator"]
    ast = simple_condition(subject, operator, rule.get("value"))
    if operator not in ("is_empty", "is_not_empty") and subject[1] == "vars" and len(subject) > 2:
        lo.reads.append((subject[2], lo.where(*parts, "variable")))
    return {"$expr": ast}


def simple_condition(subject: list, operator: str, value: Any) -> list:
    """The expression AST of a simple `{variable, operator, value}` rule."""
    if isinstance(value, list):
        literal: list = ["list", [["lit", item] for item in value]]
    else:
        literal = ["lit", value]
    if operator in ("==", "!=", ">", ">=", "<", "<="):
        return ["cmp", operator, subject, literal]
    if operator in ("contains", "starts_with", "ends_with"):
        return ["call", operator, [subject, literal]]
    if operator == "not_contains":
        return ["not", ["call", "contains", [subject, literal]]]
    if operator in ("in", "not_in"):
        return [operator, subject, literal]
    if operator == "is_empty":
        return ["call", "is_empty", [subject]]
    if operator == "is_not_empty":
        return ["not", ["call", "is_empty", [subject]]]
    raise ValueError(f"unknown operator {operator!r}")  # the schema's enum rules this out


def _action(lo: _NodeLowering, arg: dict) -> dict:
    params = arg.setdefault("params", {})
    action = arg["action"]
    if action == "set_variable":
        if "expression" in params:
            params["expression"] = lo.expr(params["expression"], "params", "expression")
        else:
            params["value"] = lo.tpl(params["value"], "params", "value")
    elif action in ("add_tag", "remove_tag"):
        params["tag"] = lo.tpl(params["tag"], "params", "tag")
    elif action == "set_contact_attribute":
        params["value"] = lo.tpl(params["value"], "params", "value")
    return arg


def _api_call(lo: _NodeLowering, arg: dict) -> dict:
    arg.setdefault("method", "GET")
    arg.setdefault("timeout_seconds", 10)
    arg.setdefault("status_variable", "api_status")
    url = arg["url"]
    problem = None if "{{" in url else http_url_problem(url)  # a template's is checked when it runs
    if problem is not None:
        lo.fail("invalid-node-data", ("url",), f"api_call {lo.node.id!r} url: {_shown_url(url)!r} {problem}",
                "use the full address, e.g. https://api.example.com/leads")
    arg["url"] = lo.tpl(url, "url")
    for section in ("headers", "query"):
        if section in arg:
            arg[section] = {k: lo.tpl(v, section, k) for k, v in arg[section].items()}
    if "body" in arg:
        arg["body"] = _body(lo, arg["body"], ("body",))
    return arg


def _body(lo: _NodeLowering, value: Any, parts: tuple) -> Any:
    """Every string of an api_call body is a template; `$` keys are reserved for AST wrappers."""
    if isinstance(value, str):
        return lo.tpl(value, *parts)
    if isinstance(value, list):
        return [_body(lo, item, parts + (i,)) for i, item in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key.startswith("$"):
                lo.fail("api-body-dollar-key", parts + (key,),
                        f"api_call body key {key!r} starts with `$`, which is reserved",
                        "rename the key")
            out[key] = _body(lo, item, parts + (key,))
        return out
    return value


def _ai_prompt(lo: _NodeLowering, arg: dict) -> dict:
    arg.setdefault("temperature", 0.7)
    arg.setdefault("max_tokens", 500)
    arg.setdefault("history_messages", 10)
    arg.setdefault("variable", "ai_response")
    arg.setdefault("send_response", True)
    arg.setdefault("timeout_seconds", 30)
    for key in ("prompt", "system_prompt"):
        if key in arg:
            arg[key] = lo.tpl(arg[key], key)
    return arg


def _jump(lo: _NodeLowering, arg: dict) -> dict:
    if "flow" in arg:
        arg.setdefault("return", True)
    return arg


def _handoff(lo: _NodeLowering, arg: dict) -> dict:
    for key in ("reason", "message"):
        if key in arg:
            arg[key] = lo.tpl(arg[key], key)
    return arg


def _end(lo: _NodeLowering, arg: dict) -> dict:
    if "message" in arg:
        arg["message"] = lo.tpl(arg["message"], "message")
    return arg


_LOWER: dict[str, Callable[[_NodeLowering, dict], Any]] = {
    "start": _start,
    "message": _message,
    "question": _question,
    "condition": _condition,
    "action": _action,
    "api_call": _api_call,
    "ai_prompt": _ai_prompt,
    "jump": _jump,
    "handoff": _handoff,
    "end": _end,
}


def unguarded_variables(ast: Any) -> set[str]:
    """Flow variables an AST reads, except as a direct argument of default/coalesce/is_empty."""
    found: set[str] = set()
    stack = [ast]
    while stack:
        node = stack.pop()
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            continue
        tag = node[0]
        if tag == "path":
            if len(node) > 2 and node[1] == "vars" and isinstance(node[2], str):
                found.add(node[2])
        elif tag == "lit":
            continue
        elif tag in ("list", "tpl"):
            stack.extend(node[1])
        elif tag == "call":
            guarded = node[1] in _NULL_GUARDS
            stack.extend(a for a in node[2] if not (guarded and isinstance(a, list) and a[:1] == ["path"]))
        elif tag in ("cmp", "arith"):
            stack.extend(node[2:])
        else:
            stack.extend(node[1:])
    return found


# -- layout ---------------------------------------------------------------------


def _handle_rank(handle: str) -> tuple:
    if handle in PRIMARY_HANDLES:
        return (0, PRIMARY_HANDLES.index(handle), "")
    return (1, 0, handle)


def layout(graph: FlowGraph) -> list[str]:
    """Reachable node ids in code order: a depth-first walk from the start, main handle first."""
    if graph.start is None:
        return []
    order: list[str] = []
    seen: set[str] = set()
    stack = [graph.start]
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        order.append(node_id)
        out = graph.exits[node_id]
        for handle in sorted(out, key=_handle_rank, reverse=True):
            if out[handle] not in seen:
                stack.append(out[handle])
    return order


def instructions(graph: FlowGraph, args: dict[str, Any], order: list[str]) -> list[Instruction]:
    pcs = {node_id: pc for pc, node_id in enumerate(order)}
    code = []
    for node_id in order:
        node = graph.canvas.nodes[node_id]
        if node.type == "jump":
            op = Op.JUMP if "target_node" in node.data else Op.CALL
        else:
            op = Op.for_node_type(node.type)
        exits = tuple(sorted((h, pcs[t]) for h, t in graph.exits[node_id].items()))
        code.append(Instruction(op, node_id, args[node_id], exits))
    return code
