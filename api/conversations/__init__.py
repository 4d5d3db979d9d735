"""The conversations room: a conversation's inbound messages and timeouts, one step at a time.

    load_step(rt, conversation_id) -> Loaded | None       # the SQL reads (load.py)
    load_row(conn, conversation_id) -> row | None         # its one statement, on a connection
    decide(rt, loaded, history) -> Decision               # flow selection + engine, plain data (decide.py)
    apply(rt, loaded, decision) -> Applied | None         # ONE guarded write + domain events (apply.py)
    process_conversation(rt, conversation_id) -> int      # the lease loop over those (process.py)
"""

from api.conversations.ai_client import LazyAIClient
from api.conversations.apply import Applied, apply
from api.conversations.decide import Decision, crashed, decide
from api.conversations.load import Loaded, history, load_row, load_step
from api.conversations.process import TIMEOUTS_KEY, process_conversation

__all__ = ["Applied", "Decision", "LazyAIClient", "Loaded", "TIMEOUTS_KEY", "apply", "crashed", "decide",
           "history", "load_row", "load_step", "process_conversation"]
