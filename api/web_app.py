"""The web app (web/, built into web/dist) served on the API's origin.

``/`` and every ``/app/...`` path answer the app's index.html (the app routes
on the client, under /app/ so its pages never shadow an API path); the hashed
files under ``/assets/`` are cached for a year. API routes are registered
first and match exact rules, so they keep priority. Without a build, ``/``
says how to make one. ``/docs`` loads Swagger UI from ``/docs-assets/`` (copied
into the build), never from a CDN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quart import Blueprint, Response, send_from_directory
from quart_schema import hide

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

blueprint = Blueprint("web_app", __name__)


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
    return response


@blueprint.get("/assets/<path:filename>")
@hide
async def web_app_asset(filename: str) -> Any:
    """A built file; its name carries its content hash, so it never changes."""
    response = await send_from_directory(WEB_DIST / "assets", filename)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@blueprint.get("/docs-assets/<path:filename>")
@hide
async def docs_asset(filename: str) -> Any:
    """Swagger UI's script and style for /docs, served locally (no CDN, works offline)."""
    response = await send_from_directory(WEB_DIST / "docs-assets", filename)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
