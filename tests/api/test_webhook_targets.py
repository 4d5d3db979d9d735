"""A webhook, a delivering integration or a Zapier hook whose URL names an address the
SSRF guard refuses (loopback, private, link-local, ...) is refused when saved: a 422 on
the field, nothing written (it used to be saved, then every delivery died on the guard
until the webhook disabled itself). Names are checked at each connection instead."""

from __future__ import annotations

import pytest

from tests.api.resources.conftest import Api

REFUSED = ["http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data/", "http://[::1]/in",
           "http://[::ffff:10.0.0.1]/in", "http://localhost:3000/in", "http://api.localhost./in",
           "http://\u2460\u2461\u2466.0.0.1/in", "http://10.1.2.3/in", "http://0.0.0.0/", "https://100.64.0.1/in"]
ACCEPTED = ["https://hooks.example.com/in", "http://93.184.216.34:8443/in"]


@pytest.fixture
def api(client, org_admin) -> Api:
    return Api(client, org_admin)


@pytest.mark.parametrize("url", REFUSED)
async def test_a_webhook_to_a_refused_address_is_refused_when_saved(api, url):
    status, error = await api.post("/webhooks", {"name": "crm", "url": url, "events": ["*"]})
    assert (status, error["error"]["field"]) == (422, "url"), error
    assert "which webhooks may not reach" in error["error"]["message"]
    assert (await api.get("/webhooks"))[1]["items"] == []
    status, hook = await api.post("/webhooks", {"name": "crm", "url": ACCEPTED[0], "events": ["*"]})
    status, error = await api.patch(f"/webhooks/{hook['id']}", {"url": url})
    assert (status, error["error"]["field"]) == (422, "url"), error
    assert (await api.get(f"/webhooks/{hook['id']}"))[1]["url"] == ACCEPTED[0]


@pytest.mark.parametrize("url", REFUSED[:3])
async def test_an_integration_or_zapier_hook_to_a_refused_address_is_refused(api, url):
    status, error = await api.post("/integrations", {"type": "webhook", "name": "crm",
                                                     "config": {"url": url, "events": ["*"]}})
    assert (status, error["error"]["field"]) == (422, "config.url"), error
    status, zap = await api.post("/integrations", {"type": "zapier", "name": "zap"})
    status, error = await api.post(f"/integrations/{zap['id']}/hooks", {"target_url": url, "event": "contact.created"})
    assert (status, error["error"]["field"]) == (422, "target_url"), error
    assert (await api.get("/webhooks"))[1]["items"] == []


@pytest.mark.parametrize("url", ACCEPTED)
async def test_a_public_address_or_a_name_is_saved(api, url):
    status, hook = await api.post("/webhooks", {"name": "crm", "url": url, "events": ["*"]})
    assert status == 201, hook


@pytest.mark.parametrize("url, written", [("http://2130706433/in", "127.0.0.1"), ("http://127.1/in", "127.0.0.1"),
                                          ("http://0x7f.0.0.1/in", "127.0.0.1"),
                                          ("https://1572395042/in", "93.184.216.34")])
async def test_an_address_written_as_another_number_is_refused_naming_the_address(api, url, written):
    """No delivery connects to such a host (the client takes only a.b.c.d), public or not: saved,
    every delivery would fail until the webhook disabled itself."""
    status, error = await api.post("/webhooks", {"name": "crm", "url": url, "events": ["*"]})
    assert (status, error["error"]["field"]) == (422, "url"), error
    assert f"(write {written})" in error["error"]["message"]
    assert (await api.get("/webhooks"))[1]["items"] == []
