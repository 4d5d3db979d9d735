"""`end`: sends the optional `message`, then ends this flow (back to the caller flow, if any).

    {"message": "Obrigado! Até logo."}
"""

from __future__ import annotations

from engine.context import END, Run
from engine.ports import OutboundMessage
from engine.program import Instruction, Op


def execute(run: Run, ins: Instruction) -> int:
    arg = ins.arg or {}
    text = run.render_text(arg.get("message"))
    if text:
        run.send(ins.node, OutboundMessage("text", {"text": text}))
    return END


HANDLERS = {Op.END: execute}
