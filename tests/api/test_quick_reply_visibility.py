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


async def test_an_agent_neither_rewrites_nor_hides_a_global_quick_reply_it_did_not_write(client, org_admin, agent,
                                                                                         bia):
    admin = Api(client, org_admin)
    status, hello = await admin.post("/quick-replies", {"shortcut": "/ola", "title": "Olá", "content": "Olá!"})
    assert status == 201, hello
    caio = Api(client, agent)
    for change in ({"is_global": False}, {"content": "Compre agora!"}):
        status, error = await caio.patch(f"/quick-replies/{hello['id']}", change)
        assert (status, error["error"]["code"]) == (403, "forbidden"), error
    assert await _shortcuts(bia) == ["/ola"]  # still everyone's, as the admin wrote it
    assert (await bia.get(f"/quick-replies/{hello['id']}"))[1]["content"] == "Olá!"

    status, mine = await caio.post("/quick-replies", {"shortcut": "/tchau", "title": "Tchau", "content": "Até!"})
    assert status == 201, mine
    assert (await caio.patch(f"/quick-replies/{mine['id']}", {"content": "Até logo!"}))[0] == 200  # its own
    assert (await bia.patch(f"/quick-replies/{mine['id']}", {"content": "Tchau!"}))[0] == 403  # not hers
    assert (await admin.patch(f"/quick-replies/{hello['id']}", {"content": "Olá! 👋"}))[0] == 200
