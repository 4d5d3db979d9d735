"""WhatsApp numbers of an organization. The Graph API access token is write-only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

from api.schemas.common import NON_BLANK, Input, JsonNumber, JsonObject, Output, Phone, StrictBool

Ident = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=NON_BLANK)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
Quality = Literal["GREEN", "YELLOW", "RED"]


MAX_RATE_PER_SECOND = 1000  # Meta's highest throughput tier (api.campaigns.control keeps the same cap)


def _uuid_text(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a chatbot id (a UUID)") from None


class PairRateLimit(BaseModel):
    """Meta's per-recipient limit as the sender applies it: ``burst`` messages, then one per ``per_seconds``."""

    model_config = ConfigDict(extra="forbid")
    per_seconds: Annotated[float, Field(gt=0, le=86_400), JsonNumber] = 6
    burst: Annotated[int, Field(ge=1, le=1000), JsonNumber] = 45


def _pair_rate_limit(value: Any) -> Any:
    if value is None or isinstance(value, bool) or value == "default":
        return value
    if isinstance(value, dict):
        try:
            return PairRateLimit.model_validate(value).model_dump()
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ValueError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    raise ValueError('must be null or false (off), true or "default" (Meta\'s limit), '
                     'or {"per_seconds": ..., "burst": ...}')


class NumberSettings(BaseModel):
    """``whatsapp_numbers.settings``: the keys the runtime reads are checked here (a value it
    cannot use is a 422 naming it, not a sender that fails at every message); any other key
    is kept as given (credentials such as ``verify_token``, an operator's own notes)."""

    model_config = ConfigDict(extra="allow")
    rate_limit_per_second: Annotated[float, Field(gt=0, le=MAX_RATE_PER_SECOND), JsonNumber] | None = None
    rate_limit_burst: Annotated[int, Field(ge=1, le=MAX_RATE_PER_SECOND), JsonNumber] | None = None
    # null or false: off; true or "default": Meta's 1 per 6 s, bursts of 45; an object: its own
    pair_rate_limit: Annotated[Any, BeforeValidator(_pair_rate_limit)] = None
    chatbot_id: Annotated[str, AfterValidator(_uuid_text)] | None = None  # kept as JSON text
    mark_as_read: StrictBool | None = None


class WhatsAppNumberCreate(Input):
    phone_number: Phone
    phone_number_id: Ident
    display_name: Annotated[str, StringConstraints(max_length=255)] | None = None
    whatsapp_business_account_id: Ident | None = None
    access_token: Secret | None = None
    is_active: StrictBool | None = None
    is_default: StrictBool | None = None
    quality_rating: Quality | None = None
    messaging_limit_tier: Annotated[str, StringConstraints(max_length=50)] | None = None
    settings: NumberSettings | None = None


class WhatsAppNumberUpdate(Input):
    phone_number: Phone | None = None
    phone_number_id: Ident | None = None
    display_name: Annotated[str, StringConstraints(max_length=255)] | None = None
    whatsapp_business_account_id: Ident | None = None
    access_token: Secret | None = None
    is_active: StrictBool | None = None
    is_default: StrictBool | None = None
    quality_rating: Quality | None = None
    messaging_limit_tier: Annotated[str, StringConstraints(max_length=50)] | None = None
    settings: NumberSettings | None = None


class WhatsAppNumberOut(Output):
    id: uuid.UUID
    organization_id: uuid.UUID
    phone_number: str
    phone_number_id: str
    display_name: str | None = None
    whatsapp_business_account_id: str | None = None
    has_access_token: bool
    is_active: bool | None = None
    is_default: bool | None = None
    is_verified: bool | None = None
    quality_rating: str | None = None
    messaging_limit_tier: str | None = None
    settings: JsonObject | None = None
    last_synced_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
