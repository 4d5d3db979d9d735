"""A personal quick reply (``is_global`` false) is its author's: other agents and viewers
neither list, read nor change it (expanding a shortcut never found it for them either);
admins manage them all, and global ones are everyone's."""

from __future__ import annotations

import pytest

from tests.api.resources.conftest import Api


@pytest.fixture
async def bia(client, make_actor, agent) -> Api:
    return Api(client, await make_actor(agent.org_id, "agent"))


@pytest.fixture
async def personal(bia: Api) -> dict:
    status, made = await bia.post("/quick-replies", {"shortcut": "/meu-pix", "title": "Pix da Bia",
                                                     "content": "Chave 11999990000", "is_global": False})
    assert status == 201, made
    return made


async def _shortcuts(api: Api) -> list[str]:
    status, page = await api.get("/quick-replies")
    assert status == 200, page
    assert page["total"] == len(page["items"])
    return [item["shortcut"] for item in page["items"]]


async def test_another_agents_personal_quick_reply_is_not_listed_read_or_changed(client, agent, viewer, bia,
                                                                                 personal):
    caio = Api(client, agent)
    assert await _shortcuts(caio) == [] and await _shortcuts(Api(client, viewer)) == []
    assert (await caio.get(f"/quick-replies/{personal['id']}"))[0] == 404
    status, error = await caio.patch(f"/quick-replies/{personal['id']}", {"content": "Chave do Caio"})
    assert (status, error["error"]["code"]) == (404, "not_found")
    status, mine = await bia.get(f"/quick-replies/{personal['id']}")
    assert (status, mine["content"]) == (200, "Chave 11999990000")  # unchanged, and its author still has it


async def test_its_author_and_admins_see_it_and_everyone_sees_the_global_ones(client, org_admin, agent, bia,
                                                                              personal):
    admin = Api(client, org_admin)
    assert (await admin.post("/quick-replies", {"shortcut": "/ola", "title": "Olá", "content": "Olá!"}))[0] == 201
    assert await _shortcuts(bia) == ["/meu-pix", "/ola"]
    assert await _shortcuts(admin) == ["/meu-pix", "/ola"]
    assert await _shortcuts(Api(client, agent)) == ["/ola"]
    assert (await bia.patch(f"/quick-replies/{personal['id']}", {"title": "Meu Pix"}))[0] == 200
    assert (await admin.delete(f"/quick-replies/{personal['id']}"))[0] == 204
