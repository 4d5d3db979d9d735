"""The web app (web/, built into web/dist) served on the API's origin.

``/`` and every ``/app/...`` path answer the app's index.html (the app routes
on the client, under /app/ so its pages never shadow an API path); the hashed
files under ``/assets/`` are cached for a year. API routes are registered
first and match exact rules, so they keep priority. Without a build, ``/``
says how to make one. ``/docs`` loads Swagger UI from ``/docs-assets/`` (copied
into the build), never from a CDN.

The app's pages carry a strict Content-Security-Policy (`web_app_policy`): scripts, styles, fonts and
API calls only from this origin (and the live channel's WebSocket to it), no inline script, no eval,
no plugin, no framing; pictures and media from this origin, the page's own blob: URLs (a customer's
file, fetched with the token) and the sources of ``PYTAKE_WEB_MEDIA_SOURCES`` (a bot's file sent by
URL; any https: host unless the operator says otherwise). docs/web.md, "Security headers".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from quart import Blueprint, Response, request, send_from_directory
from quart_schema import hide

from api.context import get_settings

WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
# Public, undocumented (not API operations): the route walks in tests/api skip them.
WEB_APP_RULES = ("/", "/app", "/app/<path:path>", "/assets/<path:filename>", "/docs-assets/<path:filename>")
# Swagger UI's files for /docs, copied into the build from the swagger-ui-dist package
DOCS_JS_URL = "/docs-assets/swagger-ui-bundle.js"
DOCS_CSS_URL = "/docs-assets/swagger-ui.css"
NOT_BUILT = (
    "The PyTake web app is not built yet (web/dist is missing).\n"
    "Build it with `make run` (or `make web`), or by hand: cd web && npm ci && npm run build\n"
    "The API itself is running: see /docs.\n"
)

# a Host header that is a plain host[:port] (a name or an IPv4 address, or a bracketed IPv6 one): only
# such a one is named in connect-src; anything else could smuggle a directive into the policy
_PLAIN_HOST = re.compile(r"([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?")
# on every file of the app: no guessing a file's type from its bytes, no app address sent to other hosts
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}

blueprint = Blueprint("web_app", __name__)


def web_app_policy(host: str, media_sources: tuple[str, ...]) -> str:
    """The Content-Security-Policy of the app's pages served as ``host``. The live channel is a
    WebSocket to this same host (``ws:`` behind plain HTTP, ``wss:`` behind TLS, which a proxy in front
    may add): both are named, as ``'self'`` covers them only in browsers following CSP Level 3."""
    sockets = f" ws://{host} wss://{host}" if _PLAIN_HOST.fullmatch(host) else ""
    media = "".join(" " + source for source in media_sources)
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "font-src 'self'",
        f"img-src 'self' data: blob:{media}",  # data: the favicon, drawn inline in index.html
        f"media-src 'self' blob:{media}",
        f"connect-src 'self'{sockets}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


@blueprint.get("/")
@blueprint.get("/app")
@blueprint.get("/app/<path:path>")
@hide
async def web_app_page(path: str = "") -> Any:
    """index.html for every page of the app (client-side routes)."""
    if not (WEB_DIST / "index.html").is_file():
        return Response(NOT_BUILT, status=503, mimetype="text/plain")
    response = await send_from_directory(WEB_DIST, "index.html")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = web_app_policy(request.host, get_settings().web_media_sources)
    response.headers["X-Frame-Options"] = "DENY"  # frame-ancestors, for browsers older than CSP 2
    response.headers.update(COMMON_HEADERS)
    return response


@blueprint.get("/assets/<path:filename>")
@hide
async def web_app_asset(filename: str) -> Any:
    """A built file; its name carries its content hash, so it never changes."""
    response = await send_from_directory(WEB_DIST / "assets", filename)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers.update(COMMON_HEADERS)
    return response


@blueprint.get("/docs-assets/<path:filename>")
@hide
async def docs_asset(filename: str) -> Any:
    """Swagger UI's script and style for /docs, served locally (no CDN, works offline)."""
    response = await send_from_directory(WEB_DIST / "docs-assets", filename)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
