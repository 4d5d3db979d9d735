"""Signup, login, lockout, refresh rotation and reuse, logout, token checks."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import jwt
from sqlalchemy import select, text, update

from api.app import create_app
from api.auth.tokens import create_access_token
from api.db.models import AuditLog, Organization, RefreshToken, User

from .conftest import PASSWORD


async def signup(client, email="founder@acme.test", org="Acme Ltd", password="s3cret-pass!"):
    return await client.post("/auth/signup", json={
        "organization_name": org, "full_name": "Ada Founder", "email": email, "password": password,
    })


async def login(client, email, password=PASSWORD):
    return await client.post("/auth/login", json={"email": email, "password": password})


# --- signup -----------------------------------------------------------------


async def test_signup_creates_organization_with_its_org_admin(client, db):
    response = await signup(client)
    assert response.status_code == 201
    body = await response.get_json()
    assert body["user"]["role"] == "org_admin"
    assert body["organization"]["slug"] == "acme-ltd"
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == "founder@acme.test"))
        org = await session.get(Organization, user.organization_id)
    assert org.name == "Acme Ltd"
    assert str(org.id) == body["organization"]["id"]


async def test_signup_tokens_work_immediately(client):
    body = await (await signup(client)).get_json()
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert (await me.get_json())["user"]["email"] == "founder@acme.test"


async def test_signup_gives_each_organization_a_unique_slug(client):
    first = await (await signup(client, email="a@acme.test")).get_json()
    second = await (await signup(client, email="b@acme.test")).get_json()
    assert first["organization"]["slug"] == "acme-ltd"
    assert second["organization"]["slug"].startswith("acme-ltd-")


async def test_signup_with_a_taken_email_is_a_conflict_naming_email(client):
    await signup(client, email="dup@acme.test")
    response = await signup(client, email="DUP@acme.test", org="Other")
    assert response.status_code == 409
    assert (await response.get_json())["error"]["field"] == "email"


async def test_signup_with_a_short_password_is_422_naming_password(client):
    response = await signup(client, password="short")
    assert response.status_code == 422
    assert (await response.get_json())["error"]["field"] == "password"


async def test_signup_stores_an_argon2_hash_not_the_password(client, db):
    await signup(client, password="s3cret-pass!")
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == "founder@acme.test"))
    assert user.password_hash.startswith("$argon2id$")
    assert "s3cret-pass!" not in user.password_hash


async def test_signup_is_audited(client, db):
    body = await (await signup(client)).get_json()
    async with db.session() as session:
        entry = await session.scalar(select(AuditLog).where(AuditLog.action == "organization.created"))
    assert str(entry.organization_id) == body["organization"]["id"]
    assert str(entry.user_id) == body["user"]["id"]


# --- login ------------------------------------------------------------------


async def test_login_returns_tokens_for_the_right_password(client, agent):
    response = await login(client, agent.email)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["token_type"] == "bearer"
    assert body["user"]["id"] == str(agent.user_id)
    assert body["refresh_token"]


async def test_login_email_is_case_insensitive(client, agent):
    response = await login(client, agent.email.upper())
    assert response.status_code == 200


async def test_login_records_time_and_ip(client, db, agent):
    await client.post("/auth/login", json={"email": agent.email, "password": PASSWORD},
                      scope_base={"client": ("203.0.113.7", 40000)})
    async with db.session() as session:
        user = await session.get(User, agent.user_id)
    assert user.last_login_at is not None
    assert str(user.last_login_ip) == "203.0.113.7"


async def test_wrong_password_is_401_with_generic_message(client, agent):
    response = await login(client, agent.email, "wrong password")
    assert response.status_code == 401
    assert (await response.get_json())["error"]["code"] == "invalid_credentials"


async def test_unknown_email_gets_the_same_answer_as_a_wrong_password(client, agent):
    wrong_password = await login(client, agent.email, "wrong password")
    unknown_email = await login(client, "nobody@example.com", "wrong password")
    assert unknown_email.status_code == wrong_password.status_code == 401
    assert await unknown_email.get_json() == await wrong_password.get_json()


async def test_deactivated_user_cannot_log_in(client, db, agent):
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == agent.user_id).values(is_active=False))
    assert (await login(client, agent.email)).status_code == 401


async def test_five_failures_lock_the_account_even_for_the_right_password(client, db, agent):
    for _ in range(5):
        assert (await login(client, agent.email, "wrong password")).status_code == 401
    locked = await login(client, agent.email)
    assert locked.status_code == 401
    async with db.session() as session:
        user = await session.get(User, agent.user_id)
    assert user.locked_until > datetime.now(timezone.utc) + timedelta(minutes=14)


async def test_locked_account_answers_like_a_wrong_password(client, agent):
    wrong = await login(client, agent.email, "wrong password")
    for _ in range(4):
        await login(client, agent.email, "wrong password")
    locked = await login(client, agent.email)
    assert await locked.get_json() == await wrong.get_json()


async def test_four_failures_do_not_lock(client, agent):
    for _ in range(4):
        await login(client, agent.email, "wrong password")
    assert (await login(client, agent.email)).status_code == 200


async def test_success_resets_the_failure_count(client, db, agent):
    for _ in range(3):
        await login(client, agent.email, "wrong password")
    await login(client, agent.email)
    async with db.session() as session:
        user = await session.get(User, agent.user_id)
    assert user.failed_login_attempts == 0


async def test_lock_expires_after_fifteen_minutes(client, db, agent):
    for _ in range(5):
        await login(client, agent.email, "wrong password")
    async with db.transaction() as session:  # fifteen minutes pass
        await session.execute(update(User).where(User.id == agent.user_id).values(
            locked_until=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert (await login(client, agent.email)).status_code == 200


async def test_after_a_lock_expires_a_single_failure_does_not_relock(client, db, agent):
    for _ in range(5):
        await login(client, agent.email, "wrong password")
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == agent.user_id).values(
            locked_until=datetime.now(timezone.utc) - timedelta(seconds=1)))
    await login(client, agent.email, "wrong password")
    assert (await login(client, agent.email)).status_code == 200


# --- refresh ----------------------------------------------------------------


async def test_refresh_returns_a_new_pair(client, agent):
    first = await (await login(client, agent.email)).get_json()
    response = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    second = await response.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 200


async def test_refresh_token_is_stored_only_as_a_hash(client, db, agent):
    body = await (await login(client, agent.email)).get_json()
    async with db.session() as session:
        hashes = set((await session.execute(select(RefreshToken.token_hash))).scalars())
    assert body["refresh_token"] not in hashes
    assert len(hashes) == 1


async def past_the_grace(db) -> None:  # noqa: ANN001
    """Rotations happened longer ago than the rotation grace (30 s)."""
    async with db.transaction() as session:
        await session.execute(update(RefreshToken).where(
            RefreshToken.revoked.is_(True), RefreshToken.expires_at > RefreshToken.revoked_at,
        ).values(revoked_at=RefreshToken.revoked_at - timedelta(seconds=31)))


async def test_a_rotated_refresh_token_no_longer_works(client, db, agent):
    first = await (await login(client, agent.email)).get_json()
    await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    await past_the_grace(db)
    again = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401
    assert (await again.get_json())["error"]["code"] == "refresh_token_reused"


async def test_reusing_a_rotated_token_revokes_the_whole_family(client, db, agent):
    first = await (await login(client, agent.email)).get_json()
    second = await (await client.post(
        "/auth/refresh", json={"refresh_token": first["refresh_token"]})).get_json()
    await past_the_grace(db)
    await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})  # replay
    latest = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert latest.status_code == 401


async def test_reuse_revokes_the_users_other_sessions_too(client, db, agent):
    laptop = await (await login(client, agent.email)).get_json()
    phone = await (await login(client, agent.email)).get_json()
    await client.post("/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    await past_the_grace(db)
    await client.post("/auth/refresh", json={"refresh_token": laptop["refresh_token"]})  # replay
    response = await client.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert response.status_code == 401


async def test_a_token_rotated_moments_ago_gets_a_pair_and_no_alarm(client, agent):
    """Two tabs sharing one pair both refresh when their access token expires: the second use
    of the token, a moment after the first, is no theft. Both pairs work; no session ends."""
    phone = await (await login(client, agent.email)).get_json()
    tab = await (await login(client, agent.email)).get_json()
    first = await client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})
    second = await client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})
    assert first.status_code == 200 and second.status_code == 200, await second.get_json()
    pairs = [await first.get_json(), await second.get_json()]
    assert pairs[0]["refresh_token"] != pairs[1]["refresh_token"]
    for pair in pairs:
        me = await client.get("/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
        assert me.status_code == 200
        assert (await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code == 200
    assert (await client.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]})).status_code == 200


async def test_two_refreshes_of_one_token_at_once_both_get_a_pair(client, agent):
    tab = await (await login(client, agent.email)).get_json()
    both = await asyncio.gather(*(client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})
                                  for _ in range(2)))
    assert [r.status_code for r in both] == [200, 200]
    for response in both:
        pair = await response.get_json()
        assert (await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code == 200


async def test_a_logged_out_token_gets_no_grace(client, agent):
    """Logging out ends that token at once: presented a moment later it is the reuse alarm,
    as it always was, not a rotation a tab raced."""
    tab = await (await login(client, agent.email)).get_json()
    phone = await (await login(client, agent.email)).get_json()
    await client.post("/auth/logout", headers={"Authorization": f"Bearer {tab['access_token']}"},
                      json={"refresh_token": tab["refresh_token"]})
    again = await client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})
    assert again.status_code == 401
    assert (await again.get_json())["error"]["code"] == "refresh_token_reused"
    assert (await client.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]})).status_code == 401


async def test_ended_sessions_end_the_grace_too(client, super_admin, agent):
    """A token rotated a moment before the user's password is changed gets no pair after it."""
    tab = await (await login(client, agent.email)).get_json()
    await client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})
    changed = await client.patch(f"/users/{agent.user_id}", headers=super_admin.headers,
                                 json={"password": "a completely new password"})
    assert changed.status_code == 200, await changed.get_json()
    again = await client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})
    assert again.status_code == 401
    assert (await again.get_json())["error"]["code"] == "session_ended"


async def test_the_reuse_alarm_ends_the_grace_too(client, db, agent):
    """A replay past the grace signs the user out everywhere: a token another tab rotated a moment
    before gets no pair after it either."""
    old = await (await login(client, agent.email)).get_json()
    await client.post("/auth/refresh", json={"refresh_token": old["refresh_token"]})
    await past_the_grace(db)
    tab = await (await login(client, agent.email)).get_json()
    await client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})
    alarm = await client.post("/auth/refresh", json={"refresh_token": old["refresh_token"]})
    assert (await alarm.get_json())["error"]["code"] == "refresh_token_reused"
    again = await client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})
    assert again.status_code == 401


async def test_logging_out_a_token_spent_moments_ago_ends_its_grace(client, agent):
    tab = await (await login(client, agent.email)).get_json()
    await client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})  # the other tab's
    await client.post("/auth/logout", headers={"Authorization": f"Bearer {tab['access_token']}"},
                      json={"refresh_token": tab["refresh_token"]})
    again = await client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})
    assert again.status_code == 401


async def test_logging_out_ends_the_grace_of_the_token_it_replaced(client, agent):
    first = await (await login(client, agent.email)).get_json()
    second = await (await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).get_json()
    await client.post("/auth/logout", headers={"Authorization": f"Bearer {second['access_token']}"},
                      json={"refresh_token": second["refresh_token"]})
    again = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401
    assert (await again.get_json())["error"]["code"] == "session_ended"


async def test_the_alarm_revokes_a_token_a_refresh_in_flight_issued(client, db, agent):
    """A replay past the grace while another refresh of the user is between its token's rotation
    and its commit: the alarm waits for it, and the token that refresh issued is revoked too."""
    from api.auth.refresh import consume_refresh_token, issue_refresh_token
    old = await (await login(client, agent.email)).get_json()
    await client.post("/auth/refresh", json={"refresh_token": old["refresh_token"]})
    await past_the_grace(db)
    live = await (await login(client, agent.email)).get_json()
    async with db.transaction() as session:  # the refresh in flight
        assert (await consume_refresh_token(session, live["refresh_token"], grace_seconds=30)).status == "valid"
        issued = await issue_refresh_token(session, agent.user_id, ttl_seconds=3600)
        await session.flush()
        alarm = asyncio.create_task(client.post("/auth/refresh", json={"refresh_token": old["refresh_token"]}))
        async with db.session() as watcher:  # the alarm waits on a lock this transaction holds
            while not (await watcher.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"))).scalar():
                assert not alarm.done(), await alarm
                await asyncio.sleep(0.01)
    assert (await (await alarm).get_json())["error"]["code"] == "refresh_token_reused"
    assert (await client.post("/auth/refresh", json={"refresh_token": issued})).status_code == 401


async def test_no_grace_when_the_setting_is_0(api_settings, db, redis, agent):  # noqa: ANN001
    application = create_app(replace(api_settings, refresh_token_rotation_grace_seconds=0))
    async with application.test_app():
        client = application.test_client()
        tab = await (await login(client, agent.email)).get_json()
        await client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})
        again = await client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})
        assert (await again.get_json())["error"]["code"] == "refresh_token_reused"
        # not either for a rotation another server dated a moment ahead of this one's clock
        tab = await (await login(client, agent.email)).get_json()
        await client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})
        async with db.transaction() as session:
            await session.execute(update(RefreshToken).where(
                RefreshToken.revoked.is_(True), RefreshToken.expires_at > RefreshToken.revoked_at,
            ).values(revoked_at=RefreshToken.revoked_at + timedelta(seconds=1)))
        ahead = await client.post("/auth/refresh", json={"refresh_token": tab["refresh_token"]})
        assert (await ahead.get_json())["error"]["code"] == "refresh_token_reused"


async def test_unknown_refresh_token_is_401(client):
    response = await client.post("/auth/refresh", json={"refresh_token": "not-a-token"})
    assert response.status_code == 401
    assert (await response.get_json())["error"]["code"] == "invalid_refresh_token"


async def test_expired_refresh_token_is_401(client, db, agent):
    body = await (await login(client, agent.email)).get_json()
    async with db.transaction() as session:
        await session.execute(update(RefreshToken).values(
            expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    response = await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 401
    assert (await response.get_json())["error"]["code"] == "refresh_token_expired"


# --- logout -----------------------------------------------------------------


async def test_logout_blacklists_the_access_token(client, agent):
    response = await client.post("/auth/logout", headers=agent.headers)
    assert response.status_code == 204
    after = await client.get("/auth/me", headers=agent.headers)
    assert after.status_code == 401
    assert (await after.get_json())["error"]["code"] == "token_revoked"


async def test_logout_blacklist_expires_with_the_token(client, redis, agent):
    await client.post("/auth/logout", headers=agent.headers)
    keys = [k async for k in redis.scan_iter("session:blacklist:*")]
    assert len(keys) == 1
    assert 0 < await redis.ttl(keys[0]) <= 15 * 60 + 1


async def test_logout_revokes_the_given_refresh_token(client, agent):
    body = await (await login(client, agent.email)).get_json()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    await client.post("/auth/logout", headers=headers, json={"refresh_token": body["refresh_token"]})
    response = await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 401


async def test_logout_leaves_other_access_tokens_working(client, agent):
    other = await (await login(client, agent.email)).get_json()
    await client.post("/auth/logout", headers=agent.headers)
    response = await client.get("/auth/me",
                                headers={"Authorization": f"Bearer {other['access_token']}"})
    assert response.status_code == 200


# --- access tokens ------------------------------------------------------------


async def test_me_lists_the_permissions_of_the_role(client, viewer):
    body = await (await client.get("/auth/me", headers=viewer.headers)).get_json()
    assert "contacts:read" in body["permissions"]
    assert "contacts:write" not in body["permissions"]


async def test_missing_token_is_401(client):
    response = await client.get("/auth/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def _claims(actor) -> dict:
    now = datetime.now(timezone.utc)
    return {"sub": str(actor.user_id), "org": str(actor.org_id), "role": actor.role,
            "jti": uuid.uuid4().hex, "typ": "access",
            "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=5)).timestamp())}


async def test_token_with_alg_none_is_refused(client, agent):
    token = jwt.encode(_claims(agent), key=None, algorithm="none")
    response = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert (await response.get_json())["error"]["code"] == "invalid_token"


async def test_token_signed_with_another_key_is_refused(client, agent):
    token = jwt.encode(_claims(agent), "some-other-key-of-sufficient-length!", algorithm="HS256")
    response = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_expired_token_is_refused(client, api_settings, agent):
    token, _ = create_access_token(
        api_settings.secret_key, user_id=agent.user_id, organization_id=agent.org_id,
        role=agent.role, ttl_seconds=60, now=datetime.now(timezone.utc) - timedelta(minutes=10))
    response = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert (await response.get_json())["error"]["code"] == "token_expired"


async def test_token_of_a_deleted_user_is_refused(client, db, agent):
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == agent.user_id).values(
            deleted_at=datetime.now(timezone.utc)))
    assert (await client.get("/auth/me", headers=agent.headers)).status_code == 401


async def test_role_is_read_from_the_database_not_the_token(client, db, viewer):
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == viewer.user_id).values(role="org_admin"))
    body = await (await client.get("/auth/me", headers=viewer.headers)).get_json()
    assert "organization:write" in body["permissions"]
