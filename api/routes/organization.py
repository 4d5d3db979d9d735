"""``/organization``: the caller's organization, its settings and plan limits.

Anyone in the organization may read it; org admins may rename it and change
its settings and its own Meta app's webhook credentials
(``whatsapp_app_secret``, encrypted at rest, and ``whatsapp_webhook_verify_token``:
write-only, the response only says ``*_set``; see `api.whatsapp.apps`); a
super_admin may delete it (soft delete: its users can no
longer sign in or use their tokens). Plan fields (``plan_type``, ``plan_expires_at``, the ``max_*``
limits, ``monthly_message_limit``) are read-only here: a request that tries to
set one is refused with 422 naming the field; the platform operator changes
them (`api.routes.admin`). Credentials kept in ``settings`` (any key named
like a secret, `api.secret_keys`) are returned only to the roles that may
change the organization (``organization:write``). The ``settings`` keys the
runtime reads (`OrganizationSettings`) are checked when written: a value it
could not use is a 422 naming it, not a campaign scheduled in UTC or an
opt-out word that never matches; so is a word that would both opt a contact
out and back in (`_campaign_words_apart`).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from quart import Blueprint
from quart_schema import document_request, document_response, tag_blueprint, validate_response
from sqlalchemy import func, select

from api.audit import record_audit
from api.campaigns.replies import campaign_reply_from
from api.auth.permissions import allowed, require
from api.auth.schemas import NoContent
from api.auth.principal import current_principal
from api.context import get_db
from api.conversations.flow_selection import normalize
from api.db.models import Organization
from api.errors import NotFound, ValidationFailed
from api.resources.body import read_body
from api.resources.secrets import SecretField, encrypt_inputs
from api.schemas.common import Keyword, Name, Text, Timezone
from api.schemas.whatsapp_numbers import Secret
from api.secret_keys import without_secrets
from api.whatsapp.apps import APPS, webhook_path

blueprint = Blueprint("organization", __name__)
tag_blueprint(blueprint, ["organization"])

MAX_SETTINGS_BYTES = 64 * 1024
APP_SECRET = SecretField("whatsapp_app_secret", "whatsapp_app_secret_encrypted", "whatsapp_app_secret_set")
WEBHOOK_CREDENTIALS = ("whatsapp_app_secret", "whatsapp_webhook_verify_token")
VerifyToken = Annotated[str, StringConstraints(min_length=1, max_length=255)]
PLAN_FIELDS = ("plan_type", "plan_expires_at", "max_chatbots", "max_whatsapp_numbers",
               "max_contacts", "max_agents", "max_departments", "monthly_message_limit")


class OrganizationOut(BaseModel):
    """The organization, its plan and limits, and its settings."""

    id: uuid.UUID
    name: str
    slug: str
    plan_type: str
    plan_expires_at: datetime | None = None
    max_chatbots: int | None = None
    max_whatsapp_numbers: int | None = None
    max_contacts: int | None = None
    max_agents: int | None = None
    max_departments: int | None = None
    monthly_message_limit: int | None = None
    settings: dict[str, Any]
    is_active: bool
    whatsapp_app_secret_set: bool = Field(description="the organization's own Meta app secret is stored")
    whatsapp_webhook_verify_token_set: bool
    whatsapp_webhook_path: str = Field(description="callback path of the organization's own Meta app")
    created_at: datetime | None = None
    updated_at: datetime | None = None


_WORD = re.compile(r"\w")


def _has_word(value: str) -> str:
    # messages are compared by their words (api.conversations.flow_selection.normalize):
    # a word of symbols only ("🛑", "!!") would match no message
    if not _WORD.search(value):
        raise ValueError("must hold a letter or a digit: symbols and emoji alone match no message")
    return value


CampaignWord = Annotated[Keyword, AfterValidator(_has_word)]  # an opt-out or opt-in word


class OrganizationSettings(BaseModel):
    """``organizations.settings``: the keys the runtime reads are checked here; any other key
    is kept as given. A key set to ``null`` is removed (its default applies again)."""

    model_config = ConfigDict(extra="allow")

    timezone: Timezone | None = Field(
        None, description="local time of campaign schedules and analytics periods (default UTC)")
    campaign_opt_out_keywords: Annotated[list[CampaignWord], Field(max_length=100)] | None = Field(
        None, description='a whole message equal to one opts the contact out (default ["PARAR", "STOP"])')
    campaign_opt_out_reply: Text | None = Field(
        None, description="sent back to a contact who opts out (default: a confirmation in the chatbot's language "
                          'naming the first opt-in word, e.g. "Pronto! Você não receberá mais nossas mensagens. '
                          'Para voltar a recebê-las, responda VOLTAR."; "" sends nothing)')
    campaign_opt_in_keywords: Annotated[list[CampaignWord], Field(max_length=100)] | None = Field(
        None, description='a whole message equal to one, from an opted-out contact, opts it back in '
                          '(default ["VOLTAR", "START"]); from anyone else it is an ordinary message. '
                          "No word may also be an opt-out word")
    campaign_opt_in_reply: Text | None = Field(
        None, description="sent back to a contact who opts back in (default: a confirmation in the chatbot's "
                          'language naming the first opt-out word, e.g. "Pronto! Você voltará a receber nossas '
                          'mensagens. Para deixar de recebê-las, responda PARAR."; "" sends nothing)')


class OrganizationUpdate(BaseModel):
    """Fields an org admin may change. ``settings`` is merged key by key; a key
    set to ``null`` is removed."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    settings: OrganizationSettings | None = None
    whatsapp_app_secret: Secret | None = Field(
        None, description="the organization's Meta app secret (write-only); null removes it")
    whatsapp_webhook_verify_token: VerifyToken | None = Field(
        None, description="the verify token of the organization's Meta app (write-only); null removes it")

    @field_validator("settings", mode="before")
    @classmethod
    def settings_small(cls, value: Any) -> Any:
        if isinstance(value, dict) and len(json.dumps(value, default=str)) > MAX_SETTINGS_BYTES:
            raise ValueError(f"settings must be at most {MAX_SETTINGS_BYTES} bytes of JSON")
        return value


OPT_OUT_WORDS, OPT_IN_WORDS = "campaign_opt_out_keywords", "campaign_opt_in_keywords"


def _campaign_words_apart(settings: dict[str, Any], given: dict[str, Any]) -> None:
    """422 naming the word written (a key in ``given``) that is also a word of the other kind, as the
    settings will be (defaults included): opt-out wins such a message, so the opt-in would never work."""
    words = campaign_reply_from(settings)
    kinds = {OPT_OUT_WORDS: ("opt-out", words.opt_out_keywords), OPT_IN_WORDS: ("opt-in", words.opt_in_keywords)}
    for key, other in ((OPT_IN_WORDS, OPT_OUT_WORDS), (OPT_OUT_WORDS, OPT_IN_WORDS)):
        if key not in given:
            continue
        (_, mine), (kind, theirs) = kinds[key], kinds[other]
        taken = {normalize(w) for w in theirs}
        for i, word in enumerate(mine):
            if normalize(word) in taken:
                at = f"settings.{key}.{i}" if given[key] is not None else f"settings.{key}"
                said = json.dumps(word, ensure_ascii=False)
                raise ValidationFailed(at, f"{said} is also an {kind} word ({other}: "
                                           f"{json.dumps(list(theirs), ensure_ascii=False)}); a word must be one "
                                           "or the other")


def organization_out(org: Organization) -> OrganizationOut:
    """The organization as the caller may see it (credentials in ``settings`` only for its managers)."""
    settings = dict(org.settings or {})
    if not allowed(current_principal().role, "organization:write"):
        settings = without_secrets(settings)
    return OrganizationOut(
        id=org.id, name=org.name, slug=org.slug, plan_type=org.plan_type or "free",
        plan_expires_at=org.plan_expires_at, max_chatbots=org.max_chatbots,
        max_whatsapp_numbers=org.max_whatsapp_numbers, max_contacts=org.max_contacts,
        max_agents=org.max_agents, max_departments=org.max_departments,
        monthly_message_limit=org.monthly_message_limit, settings=settings,
        is_active=org.is_active is not False,
        whatsapp_app_secret_set=bool(org.whatsapp_app_secret_encrypted),
        whatsapp_webhook_verify_token_set=bool(org.whatsapp_webhook_verify_token),
        whatsapp_webhook_path=webhook_path(org.id), created_at=org.created_at,
        updated_at=org.updated_at,
    )


def _own_org_query(for_update: bool = False):
    stmt = select(Organization).where(
        Organization.id == current_principal().organization_id,
        Organization.deleted_at.is_(None),
    )
    return stmt.with_for_update() if for_update else stmt


@blueprint.get("/organization")
@require("organization:read")
@validate_response(OrganizationOut, 200)
async def get_organization() -> OrganizationOut:
    """The caller's organization."""
    async with get_db().session() as session:
        org = (await session.execute(_own_org_query())).scalar_one_or_none()
    if org is None:
        raise NotFound("organization")
    return organization_out(org)


@blueprint.patch("/organization")
@require("organization:write")
@document_request(OrganizationUpdate)
@validate_response(OrganizationOut, 200)
async def update_organization() -> OrganizationOut:
    """Rename the organization or change its settings (org admins); no body changes nothing."""
    data = await read_body(OrganizationUpdate)
    async with get_db().transaction() as session:
        org = (await session.execute(_own_org_query(for_update=True))).scalar_one_or_none()
        if org is None:
            raise NotFound("organization")
        before = {"name": org.name, "settings": dict(org.settings or {})}
        if data.name is not None:
            org.name = data.name
        if data.settings is not None:
            merged = dict(org.settings or {})
            given = data.settings.model_dump(exclude_unset=True)
            for key, value in given.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            _campaign_words_apart(merged, given)
            org.settings = merged
        after = {"name": org.name, "settings": dict(org.settings or {})}
        credentials = _set_webhook_credentials(org, data)
        if credentials:  # audited by name, never by value
            after["meta_app_changed"] = credentials
        if after != before:
            await record_audit(session, "organization.updated", "organization", org.id,
                               before=before, after=after)
        await session.flush()
        await session.refresh(org)
    if credentials:
        APPS.forget(org.id)  # after the commit: the next webhook reads the new secret
    return organization_out(org)


def _set_webhook_credentials(org: Organization, data: "OrganizationUpdate") -> list[str]:
    """Store the Meta app credentials sent (``null`` clears one); the names of those sent."""
    sent = {name: getattr(data, name) for name in WEBHOOK_CREDENTIALS if name in data.model_fields_set}
    for column, value in encrypt_inputs(dict(sent), (APP_SECRET,)).items():
        setattr(org, column, value)
    return sorted(sent)


@blueprint.delete("/organization")
@require("organization:delete")
@document_response(NoContent, 204)
async def delete_organization() -> tuple[str, int]:
    """Soft-delete the organization (super_admin): its users are signed out for good."""
    async with get_db().transaction() as session:
        org = (await session.execute(_own_org_query(for_update=True))).scalar_one_or_none()
        if org is None:
            raise NotFound("organization")
        org.deleted_at = func.now()
        org.is_active = False
        await record_audit(session, "organization.deleted", "organization", org.id,
                           before={"name": org.name, "slug": org.slug})
    return "", 204
