"""PyTake flow engine: the program format, the interpreter, conversation state and ports.

Public API::

    from engine import Interpreter, RunResult, State, Ports, InboundMessage, OutboundMessage
"""

from engine.events import Event
from engine.interpreter import Interpreter, RunResult
from engine.ports import (
    AIClient,
    AIError,
    Clock,
    ContactUpdater,
    Handoff,
    HttpClient,
    HttpRequestError,
    HttpResponse,
    InboundMessage,
    Messenger,
    OutboundMessage,
    ProgramLoader,
    Ports,
    RequestRefused,
    RequestTimeout,
    ResponseTooLarge,
)
from engine.program import Instruction, Op, Program, ProgramFormatError, build
from engine.state import Frame, State, StateFormatError, Wait

__all__ = [
    "AIClient", "AIError", "Clock", "ContactUpdater", "Event", "Frame", "Handoff", "HttpClient",
    "HttpRequestError", "HttpResponse", "InboundMessage", "Instruction", "Interpreter", "Messenger",
    "Op", "OutboundMessage", "Program", "ProgramFormatError", "ProgramLoader", "Ports",
    "RequestRefused", "RequestTimeout", "ResponseTooLarge", "RunResult", "State",
    "StateFormatError", "Wait", "build",
]
