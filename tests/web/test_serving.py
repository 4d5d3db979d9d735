"""`pytake serve` serves the built web app at / without shadowing the API."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

import api.web_app as web_app
from api.app import create_app
from api.settings import Settings, SettingsError


def _client(**settings):
    app = create_app(Settings(secret_key="web-serving-test", encryption_key=Fernet.generate_key().decode("ascii"),
                              **settings))
    return app.test_client()


def _directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";"))}


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


async def test_the_pages_carry_a_strict_content_security_policy(tmp_path, monkeypatch):
    """Scripts, styles and calls only from this origin (and its live socket), no inline script or eval,
    no plugin, no framing; bots' pictures and media sent by URL from any https: host by default."""
    monkeypatch.setattr(web_app, "WEB_DIST", _fake_build(tmp_path))
    response = await _client().get("/app/inbox", headers={"Host": "pytake.pizza.example:8443"})
    policy = _directives(response.headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["default-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'", "ws://pytake.pizza.example:8443", "wss://pytake.pizza.example:8443"]
    assert policy["img-src"] == ["'self'", "data:", "blob:", "https:"]
    assert policy["media-src"] == ["'self'", "blob:", "https:"]
    assert not any("unsafe" in value for values in policy.values() for value in values)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    asset = await _client().get("/assets/index-abc123.js")
    assert asset.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_host_header_cannot_add_to_the_policy(tmp_path, monkeypatch):
    monkeypatch.setattr(web_app, "WEB_DIST", _fake_build(tmp_path))
    response = await _client().get("/", headers={"Host": "evil.example; script-src *"})
    policy = _directives(response.headers["Content-Security-Policy"])
    assert policy["connect-src"] == ["'self'"] and policy["script-src"] == ["'self'"]


async def test_an_operator_narrows_or_widens_where_media_may_come_from(tmp_path, monkeypatch):
    monkeypatch.setattr(web_app, "WEB_DIST", _fake_build(tmp_path))
    for value, expected in (("https://cdn.pizza.example *.s3.amazonaws.com", ["https://cdn.pizza.example",
                                                                              "*.s3.amazonaws.com"]),
                            ("https: http:", ["https:", "http:"]), ("none", [])):
        settings = Settings.from_env({"PYTAKE_WEB_MEDIA_SOURCES": value}, keys=False)
        response = await _client(web_media_sources=settings.web_media_sources).get("/")
        policy = _directives(response.headers["Content-Security-Policy"])
        assert policy["img-src"] == ["'self'", "data:", "blob:", *expected], value
        assert policy["media-src"] == ["'self'", "blob:", *expected], value


@pytest.mark.parametrize("value", ["'unsafe-inline'", "https:; script-src *", "*", "data:", "https://a.example,b"])
def test_a_media_source_that_would_loosen_the_policy_is_refused(value):
    with pytest.raises(SettingsError, match="PYTAKE_WEB_MEDIA_SOURCES"):
        Settings.from_env({"PYTAKE_WEB_MEDIA_SOURCES": value}, keys=False)
