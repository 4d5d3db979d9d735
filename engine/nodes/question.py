"""`question`: sends `text`, waits for the answer, validates it, stores it in `variable`.

    {"text": "Qual seu nome?", "variable": "user_name", "validation": "text"}

Entering the node sends the question (reply buttons for ≤ 3 options unless
`options_style` is "list", a list for more) and waits. ``answer`` validates
the inbound message (rules in ``engine/answers.py``): a valid answer is stored
(an option's id, and its title in ``<variable>_title``) and the run continues
through the option's own handle when connected, else `next`. A wrong answer
sends `retry_message` and waits again while retries are left (`max_retries`
retries, so `max_retries + 1` answers in all); then `invalid` is taken.
``timeout`` takes `timeout` once the deadline (`timeout_seconds`) passed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from engine import answers
from engine import events as ev
from engine.context import WAIT, Run
from engine.nodes.message import interactive
from engine.ports import InboundMessage, OutboundMessage
from engine.program import Instruction, Op
from engine.state import Wait

def question_message(run: Run, arg: Mapping[str, Any]) -> OutboundMessage:
    text = run.render_text(arg.get("text")) or ""
    options = arg.get("options")
    if not options:
        return OutboundMessage("text", {"text": text})
    if len(options) <= 3 and arg.get("options_style") != "list":
        return interactive(run, text, arg, options, (), None)
    if len(options) <= 10:
        return interactive(run, text, arg, (), options, arg.get("list_button"))
    lines = [text] + [f"{i}. {run.render_text(o.get('title', ''))}" for i, o in enumerate(options, 1)]
    return OutboundMessage("text", {"text": "\n".join(lines)})


def _wait(run: Run, ins: Instruction, retries_left: int) -> int:
    seconds = ins.arg.get("timeout_seconds")
    deadline = (run.now() + dt.timedelta(seconds=seconds)).isoformat() if seconds else None
    run.wait = Wait(ins.node, "question", retries_left, deadline)
    run.emit(ev.WAITING, ins.node, {"kind": "question", "retries_left": retries_left, "deadline": deadline})
    return WAIT


def execute(run: Run, ins: Instruction) -> int:
    arg = ins.arg
    run.send(ins.node, question_message(run, arg))
    return _wait(run, ins, int(arg.get("max_retries", 2)))


def validate(run: Run, arg: Mapping[str, Any], inbound: InboundMessage) -> tuple[Any, Mapping[str, Any] | None]:
    """The value to store (and the chosen option), or raises ``InvalidAnswer``."""
    options = arg.get("options")
    if options:
        if any(type(o.get("title")) is not str for o in options):  # templated titles
            options = [{**o, "title": run.render_text(o.get("title", ""))} for o in options]
        option = answers.match_option(options, inbound.text, inbound.reply_id)
        return option["id"], option
    text = inbound.text
    if text is None or len(text) > answers.MAX_ANSWER:
        raise answers.InvalidAnswer("no text")
    kind = arg.get("validation") or "text"
    if kind == "text":
        return answers.parse_text(text, arg.get("min"), arg.get("max")), None
    if kind == "number":
        return answers.parse_number(text, arg.get("min"), arg.get("max")), None
    if kind == "email":
        return answers.parse_email(text), None
    if kind == "phone":
        return answers.parse_phone(text, run.default_country), None
    if kind == "date":
        return answers.parse_date(text, run.now().date()), None
    if kind == "regex":
        return answers.parse_regex(text, arg.get("pattern") or ""), None
    raise answers.InvalidAnswer(f"unknown validation {kind!r}")


async def answer(run: Run, ins: Instruction, inbound: InboundMessage, retries_left: int) -> int:
    arg = ins.arg
    try:
        value, option = validate(run, arg, inbound)
    except answers.InvalidAnswer as exc:
        run.emit(ev.ANSWER_INVALID, ins.node, {"reason": str(exc), "retries_left": retries_left})
        if retries_left <= 0:
            return run.follow(ins, "invalid")
        retry = run.render_text(arg.get("retry_message")) or run.builtin_text("retry_message")
        run.send(ins.node, OutboundMessage("text", {"text": retry}))
        return _wait(run, ins, retries_left - 1)
    variable = arg["variable"]
    run.set_var(ins.node, variable, value)
    if option is not None:
        run.set_var(ins.node, f"{variable}_title", run.render_text(option.get("title", "")))
        target = ins.exit(option["id"])
        if target is not None:
            return target
    return run.follow(ins, "next")


async def timeout(run: Run, ins: Instruction) -> int:
    return run.follow(ins, "timeout")


HANDLERS = {Op.QUESTION: execute}
