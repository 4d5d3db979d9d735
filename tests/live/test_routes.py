"""The hub's index of an organization's sockets (`api.live.hub.Routes`): an event reaches
exactly the sockets `Audience.visible_to` allows, each once, as viewers come, change and go."""

from __future__ import annotations

import itertools
import json
import uuid

from api.live.audience import Audience, Viewer
from api.live.frames import text_frame
from api.live.hub import Hub, Routes, Subscriber

ORG = uuid.uuid4()
SALES, SUPPORT = str(uuid.uuid4()), str(uuid.uuid4())
_n = itertools.count()


def _socket(role: str, *departments: str, user: uuid.UUID | None = None) -> Subscriber:
    return Subscriber(f"p:{next(_n)}", Viewer(user or uuid.uuid4(), ORG, role, frozenset(departments)))


def _reached(routes: Routes, audience: Audience) -> set[str]:
    found = [s.socket_id for s in routes.audience(audience)]
    assert len(found) == len(set(found)), "a socket given the event twice"
    return set(found)


def _allowed(routes: Routes, audience: Audience) -> set[str]:
    return {s.socket_id for s in routes.values() if audience.visible_to(s.viewer)}


def test_an_event_reaches_exactly_whom_the_audience_rule_allows_each_once():
    routes = Routes()
    seller, helper, both, admin = (_socket("agent", SALES), _socket("agent", SUPPORT),
                                   _socket("agent", SALES, SUPPORT), _socket("org_admin", SALES))
    owner = uuid.uuid4()
    owners = [_socket("agent", user=owner), _socket("agent", SUPPORT, user=owner)]  # one user, two sockets
    for sub in (seller, helper, both, admin, *owners):
        routes.add(sub)
    audiences = [Audience((SALES,), ()), Audience((SUPPORT,), (str(owner),)), Audience((SALES, SUPPORT), ()),
                 Audience((), (str(owner),)), Audience((), ()), Audience((str(uuid.uuid4()),), (str(uuid.uuid4()),))]
    for audience in audiences:
        assert _reached(routes, audience) == _allowed(routes, audience)
    assert _reached(routes, Audience((SALES,), ())) == {seller.socket_id, both.socket_id, admin.socket_id}
    assert _reached(routes, Audience((), ())) == {admin.socket_id}  # an admin sees everything


def test_a_viewer_who_changed_is_routed_by_what_they_see_now_and_one_who_left_not_at_all():
    routes = Routes()
    agent, other = _socket("agent", SALES), _socket("agent", SALES)
    routes.add(agent)
    routes.add(other)
    routes.reindex(agent, Viewer(agent.viewer.user_id, ORG, "agent", frozenset({SUPPORT})))
    assert _reached(routes, Audience((SALES,), ())) == {other.socket_id}
    assert _reached(routes, Audience((SUPPORT,), ())) == {agent.socket_id}
    routes.reindex(agent, Viewer(agent.viewer.user_id, ORG, "org_admin", frozenset()))
    assert _reached(routes, Audience((SALES,), ())) == {other.socket_id, agent.socket_id}

    assert routes.pop(agent.socket_id) is agent
    assert routes.pop(agent.socket_id) is None
    assert _reached(routes, Audience((SALES, SUPPORT), (str(agent.viewer.user_id),))) == {other.socket_id}
    assert str(agent.viewer.user_id) not in routes.by_user  # their last socket here
    routes.pop(other.socket_id)
    assert not routes and routes.by_department == {} and routes.by_user == {} and routes.whole == {}


def test_an_event_is_framed_once_and_every_socket_of_its_audience_gets_that_frame():
    hub = Hub(None, None, "")
    routes = hub.by_org[str(ORG)] = Routes()
    sockets = [_socket("agent", SALES) for _ in range(3)] + [_socket("agent", SUPPORT)]
    for sub in sockets:
        sub.go_live()
        routes.add(sub)
    text = '{"type":"event","cursor":"7-9","event":{"data":{"text":"' + "ã" * 200 + '"}}}'
    hub.route(str(ORG), json.dumps({"c": "7-9", **Audience((SALES,), ()).header()}), text)
    frames = [sub.queue.get_nowait() for sub in sockets[:3]]
    assert frames[0] == text_frame(text) and all(frame is frames[0] for frame in frames)  # one encoding
    assert sockets[3].queue.empty()
