"""PyTake flow engine: the program format, the interpreter, conversation state and ports.

Public API::

    from engine import Interpreter, RunResult, State, Ports, InboundMessage, OutboundMessage
    from engine import effects_of  # what a run's events ask the caller to apply
"""

from engine.effects import Effects, effects_of
from engine.events import Event
from engine.interpreter import Interpreter, RunResult
from engine.ports import (
    AIAnswer,
    AIClient,
    AIError,
    Clock,
    FlowNotCompiled,
    FlowNotPublished,
    FlowUnavailable,
    HttpClient,
    HttpRequestError,
    HttpResponse,
    InboundMessage,
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
    "AIAnswer", "AIClient", "AIError", "Clock", "Effects", "Event", "FlowNotCompiled", "FlowNotPublished",
    "FlowUnavailable", "Frame", "HttpClient",
    "HttpRequestError", "HttpResponse", "InboundMessage", "Instruction", "Interpreter",
    "Op", "OutboundMessage", "Program", "ProgramFormatError", "ProgramLoader", "Ports",
    "RequestRefused", "RequestTimeout", "ResponseTooLarge", "RunResult", "State",
    "StateFormatError", "Wait", "build", "effects_of",
]
