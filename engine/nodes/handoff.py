"""`handoff`: tells the customer (optional `message`) and hands the conversation to a human.

    {"department": "Suporte", "reason": "Cliente pediu atendente",
     "message": "Um atendente vai falar com você em instantes.", "priority": "high"}

The bot stops for good: the run's status is ``handoff`` and no state is kept.
"""

from __future__ import annotations

from engine import events as ev
from engine.context import HANDOFF, Run
from engine.ports import OutboundMessage
from engine.program import Instruction, Op


def execute(run: Run, ins: Instruction) -> int:
    arg = ins.arg or {}
    text = run.render_text(arg.get("message"))
    if text:
        run.send(ins.node, OutboundMessage("text", {"text": text}))
    department = run.render_text(arg.get("department")) or None
    reason = run.render_text(arg.get("reason")) or None
    priority = arg.get("priority")
    run.emit(ev.HANDOFF, ins.node, {"department": department, "reason": reason, "priority": priority})
    return HANDOFF


HANDLERS = {Op.HANDOFF: execute}
