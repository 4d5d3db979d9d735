"""URLs a flow names, checked the same way by the compiler (literals) and the engine (rendered).

WhatsApp fetches a message's media (and a template's header media) from its
`link` itself and refuses anything but an absolute http(s) URL at send time
(error 131009: the customer gets nothing); an `api_call` can only reach an
http(s) URL with a host. A literal is checked when the canvas compiles, a
rendered URL before it is used.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def http_url_problem(url: str) -> str | None:
    """Why ``url`` is not an absolute http(s) URL with a host, or None when it is."""
    if not url or any(c.isspace() or not c.isprintable() for c in url):
        return "is empty or holds spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return "is not a URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "is not an absolute http:// or https:// URL"
    if not parts.hostname:
        return "has no host"
    return None
