"""`start`: where every conversation on the flow begins; continues through `next`.

    {"id": "start", "type": "start", "data": {"label": "Início"}}
"""

from __future__ import annotations

from engine.context import Run
from engine.program import Instruction, Op


def execute(run: Run, ins: Instruction) -> int:
    return run.follow(ins, "next")


HANDLERS = {Op.START: execute}
