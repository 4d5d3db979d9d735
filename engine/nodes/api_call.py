"""`api_call`: calls an HTTP API; 2xx takes `success`, anything else `error`.

    {"url": "https://api.example.com/leads", "method": "POST",
     "headers": {"Authorization": "Bearer {{vars.token}}"},
     "body": {"name": "{{contact.name}}"}, "response_mapping": {"lead_id": "data.id"}}

The status goes to `status_variable` (0 when no response arrived: timeout,
refused address, network error). On success `response_mapping` copies parts
of the JSON response into variables (a missing path gives null).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from engine import events as ev
from engine.context import Run
from engine.ports import HttpRequestError
from engine.program import Instruction, Op

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_TIMEOUT = 30.0
_SEGMENT = re.compile(r"([^.\[\]]*)((?:\[\d+\])*)")
_INDEX = re.compile(r"\[(\d+)\]")


def extract(body: Any, path: str) -> Any:
    """``data.items[0].name`` into a JSON value; ``$`` is the whole body; missing → None."""
    path = path.strip()
    if path in ("$", ""):
        return body
    if path.startswith("$."):
        path = path[2:]
    current = body
    for part in path.split("."):
        m = _SEGMENT.fullmatch(part)
        if m is None:
            return None
        key, indexes = m.groups()
        if key:
            if not isinstance(current, dict):
                return None
            current = current.get(key)
        for index in _INDEX.findall(indexes):
            i = int(index)
            if not isinstance(current, list) or i >= len(current):
                return None
            current = current[i]
        if current is None:
            return None
    return current


def _strings(mapping: Any, run: Run) -> dict[str, str]:
    if not isinstance(mapping, Mapping):
        return {}
    return {str(k): run.render_text(v) or "" for k, v in mapping.items()}


async def execute(run: Run, ins: Instruction) -> int:
    arg = ins.arg
    node = ins.node
    method = str(arg.get("method") or "GET").upper()
    url = run.render_text(arg.get("url")) or ""
    status_variable = arg.get("status_variable") or "api_status"
    timeout = min(float(arg.get("timeout_seconds") or 10), MAX_TIMEOUT)
    if method not in METHODS or not url.lower().startswith(("http://", "https://")):
        run.set_var(node, status_variable, 0)
        run.emit(ev.API_CALLED, node, {"method": method, "url": url, "status": 0, "ok": False,
                                        "error": "bad_request"})
        return run.follow(ins, "error")
    headers = _strings(arg.get("headers"), run)
    params = _strings(arg.get("query"), run)
    body = run.render(arg["body"]) if arg.get("body") is not None else None
    try:
        response = await run.ports.http.request(
            method, url, headers=headers, params=params, json=body, timeout=timeout
        )
    except HttpRequestError as exc:
        run.set_var(node, status_variable, exc.status)
        run.emit(ev.API_CALLED, node, {"method": method, "url": url, "status": exc.status, "ok": False,
                                        "error": exc.code, "message": str(exc)})
        return run.follow(ins, "error")
    except Exception as exc:  # an adapter bug must not stop the flow: take `error`
        run.set_var(node, status_variable, 0)
        run.emit(ev.API_CALLED, node, {"method": method, "url": url, "status": 0, "ok": False,
                                        "error": "network_error", "message": repr(exc)})
        return run.follow(ins, "error")
    ok = 200 <= response.status < 300
    run.set_var(node, status_variable, response.status)
    run.emit(ev.API_CALLED, node, {"method": method, "url": url, "status": response.status, "ok": ok})
    if not ok:
        return run.follow(ins, "error")
    mapping = arg.get("response_mapping")
    if isinstance(mapping, Mapping):
        for variable, path in mapping.items():
            run.set_var(node, variable, extract(response.json, str(path)))
    return run.follow(ins, "success")


HANDLERS = {Op.API_CALL: execute}
