"""`pytake serve` serves the built web app at / without shadowing the API."""

from __future__ import annotations

from cryptography.fernet import Fernet

import api.web_app as web_app
from api.app import create_app
from api.settings import Settings


def _client():
    app = create_app(Settings(secret_key="web-serving-test", encryption_key=Fernet.generate_key().decode("ascii")))
    return app.test_client()


def _fake_build(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    return tmp_path


async def test_pages_answer_the_index_and_assets_are_cached_for_good(tmp_path, monkeypatch):
    monkeypatch.setattr(web_app, "WEB_DIST", _fake_build(tmp_path))
    client = _client()
    for path in ("/", "/app", "/app/login", "/app/flows/0b6f/anything"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert "id=root" in await response.get_data(as_text=True)
        assert response.headers["Cache-Control"] == "no-cache"
    asset = await client.get("/assets/index-abc123.js")
    assert asset.status_code == 200
    assert "immutable" in asset.headers["Cache-Control"]
    missing = await client.get("/assets/nope.js")
    assert missing.status_code == 404
    assert (await missing.get_json())["error"]["code"] == "not_found"


async def test_api_routes_keep_priority(tmp_path, monkeypatch):
    monkeypatch.setattr(web_app, "WEB_DIST", _fake_build(tmp_path))
    client = _client()
    response = await client.get("/flows")
    assert response.status_code == 401
    assert (await response.get_json())["error"]["code"] == "unauthorized"
    unknown = await client.get("/no-such-route")
    assert unknown.status_code == 404 and (await unknown.get_json())["error"]["code"] == "not_found"


async def test_without_a_build_the_root_says_how_to_build(tmp_path, monkeypatch):
    monkeypatch.setattr(web_app, "WEB_DIST", tmp_path / "dist")
    response = await _client().get("/")
    assert response.status_code == 503
    text = await response.get_data(as_text=True)
    assert "not built" in text and "npm run build" in text


async def test_docs_load_swagger_ui_from_this_server_not_a_cdn():
    """/docs works without internet: its script and style come from the web build."""
    client = _client()
    page = await (await client.get("/docs")).get_data(as_text=True)
    assert web_app.DOCS_JS_URL in page and web_app.DOCS_CSS_URL in page
    assert "cdn" not in page and "https://" not in page
    assert (web_app.WEB_DIST / "docs-assets" / "swagger-ui-bundle.js").is_file(), "build the web app (make web)"
    for url in (web_app.DOCS_JS_URL, web_app.DOCS_CSS_URL):
        response = await client.get(url)
        assert response.status_code == 200 and len(await response.get_data()) > 10_000, url
