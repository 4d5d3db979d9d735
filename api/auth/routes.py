"""``/auth``: signup, login, refresh, logout, me."""

from __future__ import annotations

import ipaddress
import re
import secrets
import unicodedata
import uuid
from typing import Any

from quart import Blueprint, request
from pydantic import BaseModel, ValidationError
from quart_schema import (
    RequestSchemaValidationError,
    document_request,
    document_response,
    tag_blueprint,
    validate_request,
    validate_response,
)
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import record_audit
from api.auth import lockout
from api.auth.passwords import hash_password_async, needs_rehash, verify_password_async
from api.auth.permissions import bearer_token, require, role_permissions
from api.auth.principal import Principal, current_principal
from api.auth.refresh import (
    consume_refresh_token,
    issue_refresh_token,
    revoke_all_for_user,
    revoke_token_of_user,
)
from api.auth.schemas import (
    LoginRequest,
    LogoutRequest,
    MeOut,
    NoContent,
    OrganizationSummary,
    RefreshRequest,
    SignupRequest,
    TokenPair,
    UserOut,
)
from api.auth.tokens import SESSION_ENDED, blacklist_access_token, create_access_token
from api.auth.users import user_is_usable
from api.context import get_db, get_settings
from api.db.models import Organization, User
from api.errors import Conflict, Unauthorized
from api.ratelimit import rate_limit

blueprint = Blueprint("auth", __name__, url_prefix="/auth")
tag_blueprint(blueprint, ["auth"])

INVALID_CREDENTIALS = (
    "invalid email or password (after 5 failed attempts an account is locked for 15 minutes)"
)


def request_ip() -> str | None:
    raw = request.remote_addr
    try:
        return str(ipaddress.ip_address(raw)) if raw else None
    except ValueError:
        return None


async def optional_body(model: type[BaseModel]) -> Any:
    """Validate a JSON body that may be absent (then: the model's defaults)."""
    raw = await request.get_data()
    payload = await request.get_json(force=True) if raw else {}
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise RequestSchemaValidationError(exc) from exc


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:80].strip("-") or "org"


async def unique_slug(session: AsyncSession, name: str) -> str:
    base = slugify(name)
    taken = set((await session.execute(
        select(Organization.slug).where(or_(Organization.slug == base,
                                            Organization.slug.like(f"{base}-%")))
    )).scalars())
    if base not in taken:
        return base
    while True:
        candidate = f"{base}-{secrets.token_hex(3)}"
        if candidate not in taken:
            return candidate


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id, organization_id=user.organization_id, email=user.email,
        full_name=user.full_name, role=user.role or "agent",
        is_active=user.is_active is not False, last_login_at=user.last_login_at,
    )


def org_summary(org: Organization) -> OrganizationSummary:
    return OrganizationSummary(id=org.id, name=org.name, slug=org.slug,
                               plan_type=org.plan_type or "free")


def access_token_for(user: User) -> tuple[str, int]:
    settings = get_settings()
    token, _ = create_access_token(
        settings.secret_key, user_id=user.id, organization_id=user.organization_id,
        role=user.role or "agent", ttl_seconds=settings.access_token_ttl_seconds,
    )
    return token, settings.access_token_ttl_seconds


async def new_refresh_token(session: AsyncSession, user_id: uuid.UUID) -> str:
    return await issue_refresh_token(
        session, user_id, ttl_seconds=get_settings().refresh_token_ttl_seconds,
        user_agent=request.headers.get("User-Agent"), ip_address=request_ip(),
    )


def token_pair(user: User, org: Organization, refresh_token: str) -> TokenPair:
    access, expires_in = access_token_for(user)
    return TokenPair(access_token=access, refresh_token=refresh_token, expires_in=expires_in,
                     user=user_out(user), organization=org_summary(org))


@blueprint.post("/signup")
@rate_limit("signup")
@validate_request(SignupRequest)
@validate_response(TokenPair, 201)
async def signup(data: SignupRequest) -> tuple[TokenPair, int]:
    """Create an organization and its first user (org_admin); log that user in."""
    password_hash = await hash_password_async(data.password)
    for _attempt in range(3):
        try:
            async with get_db().transaction() as session:
                exists = await session.scalar(
                    select(User.id).where(func.lower(User.email) == data.email))
                if exists is not None:
                    raise Conflict("an account with this email already exists", field="email")
                org = Organization(name=data.organization_name,
                                   slug=await unique_slug(session, data.organization_name))
                session.add(org)
                await session.flush()
                user = User(organization_id=org.id, email=data.email, full_name=data.full_name,
                            password_hash=password_hash, role="org_admin")
                session.add(user)
                await session.flush()
                await session.refresh(org)
                await session.refresh(user)
                refresh_token = await new_refresh_token(session, user.id)
                await record_audit(
                    session, "organization.created", "organization", org.id,
                    after={"name": org.name, "slug": org.slug, "admin_email": user.email},
                    principal=Principal(user.id, org.id, "org_admin"),
                )
            return token_pair(user, org, refresh_token), 201
        except IntegrityError as exc:  # lost a race on the slug or the email
            if "email" in str(exc.orig):
                raise Conflict("an account with this email already exists", field="email") from exc
    raise Conflict("could not pick a unique organization slug; try again")


@blueprint.post("/login")
@rate_limit("login")
@validate_request(LoginRequest)
@validate_response(TokenPair, 200)
async def login(data: LoginRequest) -> TokenPair:
    """Exchange email and password for tokens.

    Every failure answers the same 401 ``invalid_credentials`` (unknown email,
    wrong password, inactive or locked account), so the answer does not tell
    whether an account exists.
    """
    db = get_db()
    async with db.session() as session:
        row = (await session.execute(
            select(User, Organization)
            .join(Organization, Organization.id == User.organization_id)
            .where(func.lower(User.email) == data.email, user_is_usable())
        )).first()
    user, org = (row if row is not None else (None, None))
    if user is None or lockout.is_locked(user.locked_until):
        await verify_password_async(None, data.password)  # same cost either way
        raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")
    if not await verify_password_async(user.password_hash, data.password):
        async with db.transaction() as session:
            await lockout.record_failure(session, user.id)
        raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")
    rehashed = (await hash_password_async(data.password)
                if needs_rehash(user.password_hash) else None)
    async with db.transaction() as session:
        await lockout.record_success(session, user.id, request_ip())
        if rehashed:  # parameters were raised since this hash was made
            await session.execute(update(User).where(User.id == user.id)
                                  .values(password_hash=rehashed))
        refresh_token = await new_refresh_token(session, user.id)
        await record_audit(session, "user.logged_in", "user", user.id,
                           principal=Principal(user.id, user.organization_id, user.role or "agent"))
    return token_pair(user, org, refresh_token)


@blueprint.post("/refresh")
@rate_limit("refresh")
@validate_request(RefreshRequest)
@validate_response(TokenPair, 200)
async def refresh(data: RefreshRequest) -> TokenPair:
    """Trade a refresh token for a new pair; the presented token stops working.

    Presenting an already-used (or logged-out) refresh token revokes every
    refresh token of its user (see `api.auth.refresh`), unless it was rotated
    within the last ``refresh_token_rotation_grace_seconds`` (two tabs
    refreshing at once): that use gets a new pair too. One revoked because the
    user's sessions were ended (password, role or account changed) is refused
    with ``session_ended``.
    """
    db = get_db()
    grace = get_settings().refresh_token_rotation_grace_seconds
    async with db.transaction() as session:
        presented = await consume_refresh_token(session, data.refresh_token, grace_seconds=grace)
        if presented.status == "reused":
            await revoke_all_for_user(session, presented.user_id, grace_seconds=grace)
        elif presented.status in ("valid", "rotated"):
            row = (await session.execute(
                select(User, Organization)
                .join(Organization, Organization.id == User.organization_id)
                .where(User.id == presented.user_id, user_is_usable())
            )).first()
            if row is not None:
                user, org = row
                new_token = await new_refresh_token(session, user.id)
                return token_pair(user, org, new_token)
    if presented.status == "reused":
        raise Unauthorized("refresh token already used; all sessions were signed out",
                           code="refresh_token_reused")
    if presented.status == "expired":
        raise Unauthorized("refresh token expired", code="refresh_token_expired")
    if presented.status == "ended":
        raise Unauthorized(SESSION_ENDED, code="session_ended")
    raise Unauthorized("invalid refresh token", code="invalid_refresh_token")


@blueprint.post("/logout")
@require()
@document_request(LogoutRequest)
@document_response(NoContent, 204)
async def logout() -> tuple[str, int]:
    """Revoke the access token (until it expires) and, if given, the refresh token.

    The body is optional: ``{"refresh_token": "..."}`` also revokes that token.
    """
    data = await optional_body(LogoutRequest)
    principal = current_principal()
    if principal.token_expires_at is not None:
        await blacklist_access_token(bearer_token(), principal.token_expires_at, principal.user_id)
    if data.refresh_token:
        async with get_db().transaction() as session:
            await revoke_token_of_user(session, data.refresh_token, principal.user_id,
                                       grace_seconds=get_settings().refresh_token_rotation_grace_seconds)
    return "", 204


@blueprint.get("/me")
@require()
@validate_response(MeOut, 200)
async def me() -> MeOut:
    """The caller's user, organization and permissions."""
    principal = current_principal()
    async with get_db().session() as session:
        row = (await session.execute(
            select(User, Organization)
            .join(Organization, Organization.id == User.organization_id)
            .where(User.id == principal.user_id)
        )).one()
    user, org = row
    return MeOut(user=user_out(user), organization=org_summary(org),
                 permissions=sorted(role_permissions(principal.role)))
