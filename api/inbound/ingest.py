"""Store what a webhook brought, durably, before answering Meta.

For each customer message, in one transaction per webhook:

- the number is looked up by ``phone_number_id`` (unknown or inactive
  numbers are ignored: Meta must get a 200 or it retries for days);
- the WhatsApp message id is claimed (`message_whatsapp_ids`) FIRST, and
  everything below hangs on that claim's ``RETURNING``: a redelivery, or a
  copy delivered at the same moment (it waits on the claim's primary key
  until the winner commits, then claims nothing), stores nothing and moves
  no counter;
- the contact is upserted by (organization, wa_id) with the profile name, or
  found by its business-scoped user id (``contacts.bsuid``) when the message
  carries one: a user who hides their phone is keyed by the BSUID alone, and
  a later message with both the phone and the BSUID finds the same contact
  (`_IDENTITY`);
- the open conversation of that contact on that number is found or created
  (the contact row lock serialises concurrent webhooks of one customer, so
  two first messages cannot open two conversations);
- the message is stored unprocessed (``metadata.processed = false``);
- the 24-hour window opens again (``last_customer_message_at``,
  ``twenty_four_hour_window_expires_at`` = +24 h, ``can_send_free_form``) and
  the counters move (``contacts.total_messages``, ``last_message_at``,
  ``conversations.message_count``, ``first_message_at``, ``last_message_at``).

A redelivered message that is still unprocessed is reported with its
conversation (`IngestResult.conversations`), so the caller wakes it again:
Meta redelivers when it got no 200, and the first wake-up may have been lost.

`ingest_messages` is what the webhook runs: per message ONE autocommit
statement when the contact already has an open conversation on the number
(the common case: nothing is created, so there is no creation race); ONE
statement too for a new customer's first message (`_NEW_CUSTOMER_SQL`: the
contact's insert serialises it against any other first message of the same
customer, and the loser writes nothing and takes the next path); else the
two-statement transaction above (claim + contact row locked first, then a
fresh snapshot finds or creates the conversation). Each message is atomic
on its own; a webhook that fails half-way is redelivered by Meta and its
stored messages are then duplicates (no-ops). `store_messages` does the same
inside a caller's SQLAlchemy transaction.

The caller enqueues one processing task per conversation once they are stored.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from api.db.session import bind
from api.events import NewEvent, contact_payload, conversation_payload, cte_params, event, message_payload
from api.whatsapp.numbers import NUMBERS, NumberInfo
from api.whatsapp.payloads import MAX_ID, REFERRAL_KEY, WebhookMessage

log = logging.getLogger("pytake.ingest")

WINDOW = timedelta(hours=24)


@dataclass
class IngestResult:
    stored: list[uuid.UUID] = field(default_factory=list)  # message ids
    duplicates: int = 0
    ignored: int = 0  # unknown / inactive number
    malformed: int = 0  # content nested too deeply to store (no WhatsApp message is)
    conversations: list[uuid.UUID] = field(default_factory=list)



# A message from a click-to-WhatsApp ad (or post) carries ``referral``: the first
# one is kept on the contact (``attributes.whatsapp_referral``) and on the
# conversation (``flow_variables.whatsapp_referral``), never overwritten (first
# touch); every message keeps its own in ``content.referral``. ``:referral`` is
# NULL for the other messages and the column is then left as it is.
def _referral_into(column: str) -> str:
    return (f"CASE WHEN CAST(:referral AS jsonb) IS NULL OR COALESCE({column} ? '{REFERRAL_KEY}', false) "
            f"THEN {column} ELSE COALESCE({column}, '{{}}'::jsonb) || "
            f"jsonb_build_object('{REFERRAL_KEY}', CAST(:referral AS jsonb)) END")


_REFERRAL_OBJECT = (f"CASE WHEN CAST(:referral AS jsonb) IS NULL THEN '{{}}'::jsonb "
                    f"ELSE jsonb_build_object('{REFERRAL_KEY}', CAST(:referral AS jsonb)) END")


# A redelivered message still unprocessed: its conversation (the caller wakes it
# again: the first wake-up may have been lost). Only duplicates reach the join.
_PENDING_DUPLICATE = """SELECT m.conversation_id FROM message_whatsapp_ids w
    JOIN messages m ON m.id = w.message_id AND m.created_at = w.message_created_at
   WHERE w.whatsapp_message_id = :wamid AND m.direction = 'inbound' AND m.metadata->>'processed' = 'false'"""

# Which contact a message is from. With the phone (``:keys``: the phone, and the
# BSUID when Meta sent it): the contact whose ``whatsapp_id`` is either, i.e. the
# phone's, or one known by its BSUID alone until now; one probe of the unique
# (organization, whatsapp_id) index, as before BSUIDs. With the BSUID alone
# (``phone_hidden``): the contact keyed by it, or the one that learnt it with its
# phone (``bsuid``). The phone's first when two contacts match (one created by
# phone before Meta sent BSUIDs, one by BSUID alone: they are not merged).
def _known_contact(alias: str, phone_hidden: bool) -> str:
    if phone_hidden:
        return f"{alias}.organization_id = :org AND ({alias}.whatsapp_id = :wa_id OR {alias}.bsuid = :wa_id)"
    return f"{alias}.organization_id = :org AND {alias}.whatsapp_id = ANY(CAST(:keys AS text[]))"


_KNOWN_ORDER = "(ct.whatsapp_id = :wa_id) DESC"

# What a message teaches about its contact's identity (both statements that move
# a contact): the BSUID is kept when the contact has none (and no other contact
# of the organization holds it); a contact known by its BSUID alone takes the
# phone as its ``whatsapp_id`` (and ``phone``) when a message brings it and no
# other contact has that number. Both sub-queries run only in those rare cases.
_IDENTITY = """bsuid = COALESCE(contacts.bsuid, CASE WHEN CAST(:bsuid AS text) IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM contacts o WHERE o.organization_id = :org AND o.bsuid = CAST(:bsuid AS text))
           THEN CAST(:bsuid AS text) END),
         whatsapp_id = CASE WHEN contacts.whatsapp_id <> :wa_id AND CAST(:phone AS text) IS NOT NULL
                             AND contacts.whatsapp_id = contacts.bsuid AND NOT EXISTS (
             SELECT 1 FROM contacts o WHERE o.organization_id = :org AND o.whatsapp_id = :wa_id)
           THEN :wa_id ELSE contacts.whatsapp_id END,
         phone = CASE WHEN contacts.phone IS NULL AND contacts.whatsapp_id = contacts.bsuid
           THEN CAST(:phone AS text) ELSE contacts.phone END"""

# The counters and names a message moves on its contact (both paths)
_CONTACT_TOUCH = f"""whatsapp_name = COALESCE(CAST(:profile AS text), contacts.whatsapp_name),
         name = COALESCE(contacts.name, CAST(:profile AS text)),
         last_message_at = GREATEST(COALESCE(contacts.last_message_at, :at), :at),
         total_messages = COALESCE(contacts.total_messages, 0) + 1,
         attributes = {_referral_into("contacts.attributes")},
         {_IDENTITY},
         updated_at = now()"""

# The locked path's first statement. The WhatsApp id is claimed FIRST: a
# concurrent delivery of the same id waits on the claim's primary key until the
# winner commits, then claims nothing, so it upserts (and counts) nothing. Only
# the delivery that claimed the id upserts the contact, which locks its row
# until commit: concurrent webhooks of one customer serialise here, so two first
# messages cannot open two conversations. ``contact_id`` NULL: a redelivery
# (``pending_conversation_id``: its conversation, when its message is unprocessed).
# A contact found by either identity (`_known_contact`) is updated; else one is
# inserted (by ``whatsapp_id``, upserted when a concurrent first message won).
def _claim_and_upsert_contact_sql(phone_hidden: bool) -> str:
    return f"""
WITH claim AS (
  INSERT INTO message_whatsapp_ids (whatsapp_message_id, message_id, message_created_at)
  VALUES (:wamid, :id, :arrived) ON CONFLICT (whatsapp_message_id) DO NOTHING
  RETURNING whatsapp_message_id
), known AS (
  SELECT ct.id FROM contacts ct WHERE {_known_contact("ct", phone_hidden)} ORDER BY {_KNOWN_ORDER} LIMIT 1
), updated AS (
  UPDATE contacts SET {_CONTACT_TOUCH}
   WHERE id = (SELECT id FROM known) AND EXISTS (SELECT 1 FROM claim)
  RETURNING id
), inserted AS (
  INSERT INTO contacts (organization_id, whatsapp_id, bsuid, whatsapp_name, name, phone, last_message_at,
                        total_messages, attributes)
  SELECT :org, :wa_id, :bsuid, :profile, :profile, :phone, :at, 1, {_REFERRAL_OBJECT}
   WHERE EXISTS (SELECT 1 FROM claim) AND NOT EXISTS (SELECT 1 FROM known)
  ON CONFLICT (organization_id, whatsapp_id) DO UPDATE SET {_CONTACT_TOUCH}
  RETURNING id, xmax = 0 AS inserted
)
SELECT COALESCE((SELECT id FROM updated), (SELECT id FROM inserted)) AS contact_id,
       COALESCE((SELECT inserted FROM inserted), false) AS contact_created,
       ({_PENDING_DUPLICATE} LIMIT 1) AS pending_conversation_id
"""
# each statement in its two forms: the phone known, or hidden (`_known_contact`)
_CLAIM_AND_UPSERT_CONTACT_SQL = {hidden: _claim_and_upsert_contact_sql(hidden) for hidden in (False, True)}
_CLAIM_AND_UPSERT_CONTACT = {hidden: text(sql) for hidden, sql in _CLAIM_AND_UPSERT_CONTACT_SQL.items()}

# An inbound message on a conversation: the 24-hour window opens again and the
# counters move (both store statements below; ``:at`` is the message's time).
_OPEN_WINDOW = """last_customer_message_at = GREATEST(COALESCE(last_customer_message_at, :at), :at),
         twenty_four_hour_window_expires_at = GREATEST(COALESCE(last_customer_message_at, :at), :at) + interval '24 hours',
         can_send_free_form = true,
         first_message_at = COALESCE(first_message_at, :at),
         last_message_at = GREATEST(COALESCE(last_message_at, :at), :at),
         message_count = COALESCE(message_count, 0) + 1,
         updated_at = now()"""

# The domain events of a stored message (`_events`: contact.created,
# conversation.created, message.received, in that order), written by the
# statement that stores it, after the conversation's row is locked (``{source}``
# joins the CTE that locked or created it), so their ids are the
# conversation's commit order. The payloads come from the catalogue's builders;
# the ids only the statement knows are filled in here. Nothing is written when
# nothing is stored (a redelivery: the claim-first dedupe above). A
# conversation.created is kept only when the conversation was created.
def _events_cte(source: str, conversation: str, contact: str, created: str) -> str:
    return f"""ingest_events AS (
  INSERT INTO events (organization_id, type, version, ordering_key, payload)
  SELECT e.org, e.type, e.version, {conversation},
         CASE e.type
           WHEN 'message.received' THEN jsonb_set(jsonb_set(CAST(e.text AS jsonb), '{{message,conversation_id}}',
                                                            to_jsonb({conversation})),
                                                  '{{message,contact_id}}', to_jsonb({contact}))
           WHEN 'conversation.created' THEN jsonb_set(CAST(e.text AS jsonb), '{{conversation,id}}',
                                                           to_jsonb({conversation}))
           ELSE CAST(e.text AS jsonb) END
    FROM unnest(CAST(:ev_orgs AS uuid[]), CAST(:ev_types AS text[]), CAST(:ev_versions AS int2[]),
                CAST(:ev_payloads AS text[])) WITH ORDINALITY AS e(org, type, version, text, n),
         {source}
   WHERE e.type <> 'conversation.created' OR {created}
   ORDER BY e.n
)"""


# A conversation the webhook opens (its row and its conversation.created payload)
NEW_CONVERSATION = {"status": "open", "priority": "normal", "is_bot_active": True}


def _open_conversation(contact: str) -> str:
    """The INSERT of a new open conversation of ``contact`` (an SQL expression) on the
    message's number, its window open, its first message counted; the caller ends it
    (WHERE / FROM, RETURNING)."""
    return f"""INSERT INTO conversations (organization_id, contact_id, whatsapp_number_id, status, last_customer_message_at,
                             twenty_four_hour_window_expires_at, can_send_free_form, first_message_at,
                             last_message_at, message_count, flow_variables, priority, is_bot_active)
  SELECT :org, {contact}, :number, '{NEW_CONVERSATION["status"]}', :at, CAST(:at AS timestamptz) + interval '24 hours',
         true, :at, :at, 1, {_REFERRAL_OBJECT}, '{NEW_CONVERSATION["priority"]}', {str(NEW_CONVERSATION["is_bot_active"]).lower()}
"""


def _store_row(conversation: str, source: str) -> str:
    """The INSERT of the inbound row on conversation ``conversation`` (an SQL expression) from
    ``source`` (no row there: nothing stored), returning its id."""
    return f"""INSERT INTO messages (id, conversation_id, direction, sender_type, whatsapp_message_id, type,
                        content, status, metadata, created_at)
  SELECT :id, {conversation}, 'inbound', 'contact', :wamid, :type, CAST(:content AS jsonb),
         'delivered', CAST(:metadata AS jsonb), :arrived
    FROM {source}
  RETURNING id"""

# One statement, run once the id is claimed and the contact row locked (so its
# snapshot sees a conversation a concurrent first message created): the open
# conversation of this contact on this number, with the 24-hour window opened
# again and its counters moved, or a new one; and the message stored on it.
_STORE_MESSAGE_SQL = f"""
WITH touched AS (
  UPDATE conversations
     SET {_OPEN_WINDOW},
         flow_variables = {_referral_into("flow_variables")}
   WHERE id = (SELECT id FROM conversations
                WHERE organization_id = :org AND contact_id = :contact AND whatsapp_number_id = :number
                  AND status NOT IN ('resolved', 'closed')
                ORDER BY created_at DESC LIMIT 1)
  RETURNING id
), created AS (
  {_open_conversation(":contact")}   WHERE NOT EXISTS (SELECT 1 FROM touched)
  RETURNING id
), conversation AS (
  SELECT id FROM touched UNION ALL SELECT id FROM created
), stored AS (
  {_store_row("conversation.id", "conversation")}
), {_events_cte("stored, conversation", "conversation.id", "CAST(:contact AS uuid)",
                "EXISTS (SELECT 1 FROM created)")}
SELECT conversation.id AS conversation_id, (SELECT count(*) FROM stored) AS stored FROM conversation
"""
_STORE_MESSAGE = text(_STORE_MESSAGE_SQL)

# The fast path, one autocommit statement: the contact and its open conversation
# on this number already exist in the statement's snapshot, so nothing is created.
# The WhatsApp id is claimed first and everything else hangs on that claim's
# RETURNING: a copy of the message delivered at the same moment waits on the
# claim's primary key until the winner commits, claims nothing, and then moves no
# counter and stores nothing (`stored` = 0 with a `conversation_id`). Then the rows
# are locked in the locked path's order (claim, contact, conversation: no deadlock
# between the two paths); the contact's and conversation's counters move, the
# window opens again and the row is stored, exactly as the two statements above
# do. No open conversation (or no contact) → nothing is claimed or written and
# `conversation_id` is NULL: the caller takes the locked path. A redelivery (the
# id already claimed) writes nothing either (`duplicate`; `pending_conversation_id`
# when its message is still unprocessed).
def _fast_store_sql(phone_hidden: bool) -> str:
    return f"""
WITH seen AS (
  SELECT 1 FROM message_whatsapp_ids WHERE whatsapp_message_id = :wamid
), found AS (
  SELECT c.id, c.contact_id FROM contacts ct
    JOIN conversations c ON c.contact_id = ct.id
   WHERE {_known_contact("ct", phone_hidden)}
     AND c.organization_id = :org AND c.whatsapp_number_id = :number AND c.status NOT IN ('resolved', 'closed')
     AND NOT EXISTS (SELECT 1 FROM seen)
   ORDER BY {_KNOWN_ORDER}, c.created_at DESC LIMIT 1
), claim AS (
  INSERT INTO message_whatsapp_ids (whatsapp_message_id, message_id, message_created_at)
  SELECT :wamid, :id, :arrived FROM found
  ON CONFLICT (whatsapp_message_id) DO NOTHING
  RETURNING whatsapp_message_id
), contact AS (
  UPDATE contacts
     SET {_CONTACT_TOUCH}
   WHERE id = (SELECT contact_id FROM found) AND EXISTS (SELECT 1 FROM claim)
  RETURNING id
), touched AS (
  UPDATE conversations
     SET {_OPEN_WINDOW},
         flow_variables = {_referral_into("flow_variables")}
   WHERE id = (SELECT found.id FROM found, contact)  -- the contact's row lock first, as the locked path
  RETURNING id
), stored AS (
  {_store_row("found.id", "claim, found")}
), {_events_cte("stored, found, touched", "found.id", "found.contact_id", "false")}
SELECT (SELECT count(*) FROM touched) AS touched,  -- first: the claim, contact, conversation, then the row
       (SELECT id FROM found) AS conversation_id,
       EXISTS (SELECT 1 FROM seen) AS duplicate, (SELECT count(*) FROM stored) AS stored,
       CASE WHEN EXISTS (SELECT 1 FROM seen) THEN ({_PENDING_DUPLICATE} LIMIT 1) END AS pending_conversation_id,
       CASE WHEN NOT EXISTS (SELECT 1 FROM found) THEN EXISTS (
         SELECT 1 FROM contacts ct WHERE {_known_contact("ct", phone_hidden)}) END AS contact_known
"""


_FAST_STORE_SQL = {hidden: _fast_store_sql(hidden) for hidden in (False, True)}

# A new customer's first message, one autocommit statement instead of the locked
# path's transaction (BEGIN, claim and contact, store, COMMIT: four round trips
# more, each a wait for a CPU on a busy machine): taken when the fast path found
# no contact by the message's identities (``contact_known`` false; the phone
# known, not the BSUID alone). The id is claimed first, then the contact is
# inserted with the id the caller chose, the conversation opened and the row
# stored on it, with their events (contact.created, conversation.created,
# message.received). The contact's insert is what serialises concurrent first
# messages of one customer: one that finds the contact inserted meanwhile (it
# waits for that insert's commit, then conflicts) raises the `RACED` marker, so
# nothing of it (the claim included) is written, and the caller takes the locked
# path, which finds that contact and its conversation. A redelivery (the id
# claimed meanwhile) writes nothing (`claimed` false).
RACED = "pytake-raced:"
_NEW_CUSTOMER_SQL = f"""
WITH claim AS (
  INSERT INTO message_whatsapp_ids (whatsapp_message_id, message_id, message_created_at)
  VALUES (:wamid, :id, :arrived) ON CONFLICT (whatsapp_message_id) DO NOTHING
  RETURNING whatsapp_message_id
), contact AS (
  INSERT INTO contacts (id, organization_id, whatsapp_id, bsuid, whatsapp_name, name, phone, last_message_at,
                        total_messages, attributes)
  SELECT :contact, :org, :wa_id, :bsuid, :profile, :profile, :phone, :at, 1, {_REFERRAL_OBJECT}
   WHERE EXISTS (SELECT 1 FROM claim)
  ON CONFLICT (organization_id, whatsapp_id) DO NOTHING
  RETURNING id
), created AS (
  {_open_conversation("contact.id")}    FROM contact
  RETURNING id
), stored AS (
  {_store_row("created.id", "created")}
), {_events_cte("stored, created", "created.id", "CAST(:contact AS uuid)", "true")}
SELECT CASE WHEN EXISTS (SELECT 1 FROM claim) AND NOT EXISTS (SELECT 1 FROM contact)
            THEN CAST('{RACED}' || (SELECT count(*) FROM contact) AS int) END AS raced,
       EXISTS (SELECT 1 FROM claim) AS claimed, (SELECT id FROM created) AS conversation_id,
       (SELECT count(*) FROM stored) AS stored,
       CASE WHEN NOT EXISTS (SELECT 1 FROM claim) THEN ({_PENDING_DUPLICATE} LIMIT 1) END AS pending_conversation_id
"""


def _raw(sql: str, **params: Any) -> list[Any]:
    return bind(sql, params)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _phone(wa_id: str) -> str | None:
    return ("+" + wa_id)[:20] if wa_id.isascii() and wa_id.isdigit() else None  # 0-9 only, not other scripts


def _message_params(m: WebhookMessage, number: NumberInfo, now: datetime) -> dict[str, Any]:
    at = min(m.timestamp, now)  # the customer's clock can't open a window in the future
    metadata = {"processed": False, "kind": m.kind, "wa_timestamp": int(m.timestamp.timestamp()),
                "from": m.wa_id, "phone_number_id": m.phone_number_id}
    referral = m.content.get("referral")
    if isinstance(referral, dict):  # the ad, and which message brought it when
        referral = _json({**referral, "whatsapp_message_id": m.wamid, "received_at": at.isoformat()})
    else:
        referral = None
    return {"org": number.organization_id, "number": number.id, "at": at, "wa_id": m.wa_id,
            "profile": m.profile_name, "wamid": m.wamid, "id": uuid.uuid4(), "phone": _phone(m.wa_id),
            "bsuid": m.user_id, "phone_hidden": m.wa_id == m.user_id,
            "keys": [m.wa_id] if m.user_id is None or m.wa_id == m.user_id else [m.wa_id, m.user_id],
            "type": m.column_type, "content": _json(m.content), "metadata": _json(metadata),
            "referral": referral}


# A customer who changed their number (a ``system`` message of type
# user_changed_number, customer_changed_number before Graph v12) keeps its
# contact: same row, conversations and history, with the new WhatsApp id, the
# phone (when it was the one derived from the old id) and the old id appended to
# ``attributes.previous_whatsapp_ids``. When the organization already has a
# contact with the new id (the customer wrote from it first), the two are not
# merged: the old one gets ``attributes.whatsapp_changed_to`` and the other one
# the old id in its ``previous_whatsapp_ids``.
NUMBER_CHANGES = ("user_changed_number", "customer_changed_number")
_APPEND_PREVIOUS = ("COALESCE(attributes, '{}'::jsonb) || jsonb_build_object('previous_whatsapp_ids', "
                    "COALESCE(attributes->'previous_whatsapp_ids', '[]'::jsonb) || to_jsonb(CAST(:wa_id AS text)))")
_CHANGE_NUMBER_SQL = f"""
WITH taken AS (
  SELECT 1 FROM contacts WHERE organization_id = :org AND whatsapp_id = :new_wa_id
), renamed AS (
  UPDATE contacts
     SET whatsapp_id = :new_wa_id,
         phone = CASE WHEN phone IS NULL OR phone = :phone THEN :new_phone ELSE phone END,
         attributes = {_APPEND_PREVIOUS},
         updated_at = now()
   WHERE organization_id = :org AND whatsapp_id = :wa_id AND NOT EXISTS (SELECT 1 FROM taken)
  RETURNING id
), left_behind AS (
  UPDATE contacts
     SET attributes = COALESCE(attributes, '{{}}'::jsonb) || jsonb_build_object('whatsapp_changed_to', CAST(:new_wa_id AS text)),
         updated_at = now()
   WHERE organization_id = :org AND whatsapp_id = :wa_id AND EXISTS (SELECT 1 FROM taken)
  RETURNING id
), joined AS (
  UPDATE contacts
     SET attributes = {_APPEND_PREVIOUS},
         updated_at = now()
   WHERE organization_id = :org AND whatsapp_id = :new_wa_id AND EXISTS (SELECT 1 FROM left_behind)
  RETURNING id
)
SELECT (SELECT count(*) FROM renamed) AS renamed, (SELECT count(*) FROM joined) AS joined
"""
_CHANGE_NUMBER = text(_CHANGE_NUMBER_SQL)


def changed_number(m: WebhookMessage) -> str | None:
    """The new WhatsApp id when ``m`` says the customer changed their number."""
    if m.kind != "system" or m.content.get("type") not in NUMBER_CHANGES:
        return None
    new = m.content.get("wa_id") or m.content.get("new_wa_id")
    new = str(new) if isinstance(new, (str, int)) else None
    return new if new and new != m.wa_id and len(new) <= MAX_ID else None


def _number_change_params(p: dict[str, Any], new_wa_id: str) -> dict[str, Any]:
    return {"org": p["org"], "wa_id": p["wa_id"], "phone": p["phone"], "new_wa_id": new_wa_id,
            "new_phone": _phone(new_wa_id)}


async def _change_number_raw(conn: Any, p: dict[str, Any], new_wa_id: str) -> None:
    params = _number_change_params(p, new_wa_id)
    for attempt in (1, 2):  # a contact with the new id created meanwhile: the second run sees it
        try:
            await conn.fetchrow(*_raw(_CHANGE_NUMBER_SQL, **params))
            return
        except asyncpg.UniqueViolationError:
            if attempt == 2:
                raise


async def _change_number(session: Any, p: dict[str, Any], new_wa_id: str) -> None:
    params = _number_change_params(p, new_wa_id)
    for attempt in (1, 2):
        try:
            async with session.begin_nested():
                await session.execute(_CHANGE_NUMBER, params)
            return
        except IntegrityError:
            if attempt == 2:
                raise


def _events(p: dict[str, Any], m: WebhookMessage, *, contact_id: uuid.UUID | None = None,
            contact_created: bool = False, may_open: bool = False) -> dict[str, Any]:
    """The `_events_cte` parameters of a message about to be stored (``p``: its
    `_message_params` with ``arrived``): its message.received; with ``contact_id``
    (the locked path) the contact.created of a new contact and, ``may_open``, the
    conversation.created kept if the statement opens one."""
    org = p["org"]
    events: list[NewEvent] = []
    if contact_created:
        referral = {REFERRAL_KEY: json.loads(p["referral"])} if p["referral"] else {}
        events.append(event(org, "contact.created", contact_payload({
            "id": contact_id, "whatsapp_id": p["wa_id"], "bsuid": p["bsuid"], "whatsapp_name": p["profile"], "name": p["profile"],
            "phone": p["phone"], "attributes": referral})))
    if may_open:
        events.append(event(org, "conversation.created", conversation_payload({
            "contact_id": contact_id, "whatsapp_number_id": p["number"], **NEW_CONVERSATION})))
    events.append(event(org, "message.received", message_payload({
        "id": p["id"], "direction": "inbound", "sender_type": "contact", "type": p["type"], "content": m.content,
        "status": "delivered", "whatsapp_message_id": p["wamid"], "created_at": p["arrived"]})))
    return cte_params(events)


def _skip_malformed(result: IngestResult, m: WebhookMessage) -> None:
    """A message whose content JSON cannot encode (nested deeper than Python's
    recursion allows; Meta's payloads are a few levels deep): skipped like any
    other malformed part, so the webhook still answers 200 for the rest."""
    log.warning("skipped message %.80s from %.40s: its content is nested too deeply to store", m.wamid, m.wa_id)
    result.malformed += 1


def _wake_duplicate(result: IngestResult, pending_conversation_id: Any) -> None:
    """A redelivery: counted; its conversation woken again if its message is still unprocessed."""
    result.duplicates += 1
    if pending_conversation_id is not None and pending_conversation_id not in result.conversations:
        result.conversations.append(pending_conversation_id)


def _stored(result: IngestResult, message_id: uuid.UUID, conversation_id: Any) -> None:
    result.stored.append(message_id)
    if conversation_id not in result.conversations:
        result.conversations.append(conversation_id)


def _prepared(result: IngestResult, m: WebhookMessage, number: Any, now: datetime) -> dict[str, Any] | None:
    """The message's statement parameters, or None (counted) when its number is not ours
    or it is too deeply nested to store."""
    if number is None:
        result.ignored += 1
        return None
    try:
        p = _message_params(m, number, now)
    except RecursionError:
        _skip_malformed(result, m)
        return None
    p["arrived"] = datetime.now(timezone.utc)  # arrival order: the processing order
    return p


async def _locked_store(conn: Any, p: dict[str, Any], m: WebhookMessage) -> tuple[Any, Any]:
    """The locked path, in one transaction: (the store statement's row, None), or (None,
    the pending conversation) for a redelivery. Run again once when a concurrent first
    message of the same customer, carrying the other identity, created its contact
    meanwhile (the BSUID's unique index): the second run finds that contact."""
    for attempt in (1, 2):
        try:
            async with conn.transaction():
                claimed = await conn.fetchrow(*_raw(_CLAIM_AND_UPSERT_CONTACT_SQL[p["phone_hidden"]], **p))
                if claimed["contact_id"] is None:
                    return None, claimed["pending_conversation_id"]
                contact_id = claimed["contact_id"]
                return await conn.fetchrow(*_raw(_STORE_MESSAGE_SQL, **p, contact=contact_id, **_events(
                    p, m, contact_id=contact_id, contact_created=claimed["contact_created"], may_open=True))), None
        except asyncpg.UniqueViolationError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _new_customer_store(conn: Any, p: dict[str, Any], m: WebhookMessage) -> tuple[Any, Any] | None:
    """A new customer's first message in one statement (`_NEW_CUSTOMER_SQL`), answered as
    `_locked_store` answers: (its row, None), or (None, the pending conversation) for a
    redelivery; None when the customer's contact was created meanwhile (nothing was
    written): the locked path stores it then."""
    contact_id = uuid.uuid4()
    try:
        row = await conn.fetchrow(*_raw(_NEW_CUSTOMER_SQL, **p, contact=contact_id, **_events(
            p, m, contact_id=contact_id, contact_created=True, may_open=True)))
    except asyncpg.UniqueViolationError:  # the BSUID is another contact's: the locked path sorts it out
        return None
    except asyncpg.PostgresError as exc:
        if RACED in str(exc):
            return None
        raise
    if not row["claimed"]:
        return None, row["pending_conversation_id"]
    return row, None


async def ingest_messages(db: Any, messages: list[WebhookMessage]) -> IngestResult:
    """Store a webhook's customer messages (the webhook's path; see the module doc)."""
    result = IngestResult()
    now = datetime.now(timezone.utc)
    async with db.raw() as conn:
        for m in messages:
            p = _prepared(result, m, await NUMBERS.get_raw(conn, m.phone_number_id), now)
            if p is None:
                continue
            row = await conn.fetchrow(*_raw(_FAST_STORE_SQL[p["phone_hidden"]], **p, **_events(p, m)))
            if row["duplicate"]:
                _wake_duplicate(result, row["pending_conversation_id"])
                continue
            conversation_id, stored = row["conversation_id"], row["stored"]
            if conversation_id is None:  # no open conversation (yet): a new customer's, or the locked path
                p["arrived"] = datetime.now(timezone.utc)
                outcome = None
                if row["contact_known"] is False and not p["phone_hidden"]:
                    outcome = await _new_customer_store(conn, p, m)
                row, pending = outcome or await _locked_store(conn, p, m)
                if row is None:
                    _wake_duplicate(result, pending)
                    continue
                conversation_id, stored = row["conversation_id"], row["stored"]
            if not stored:  # the same id arrived concurrently and won: it wakes the conversation
                result.duplicates += 1
                continue
            _stored(result, p["id"], conversation_id)
            if (new_wa_id := changed_number(m)) is not None:
                await _change_number_raw(conn, p, new_wa_id)
    return result


async def store_messages(session: Any, messages: list[WebhookMessage]) -> IngestResult:
    """Store a webhook's customer messages in ``session``'s transaction."""
    result = IngestResult()
    now = datetime.now(timezone.utc)
    for m in messages:
        p = _prepared(result, m, await NUMBERS.get(session, m.phone_number_id), now)
        if p is None:
            continue
        claimed = (await session.execute(_CLAIM_AND_UPSERT_CONTACT[p["phone_hidden"]], p)).one()
        if claimed.contact_id is None:
            _wake_duplicate(result, claimed.pending_conversation_id)
            continue
        row = (await session.execute(_STORE_MESSAGE, {**p, "contact": claimed.contact_id, **_events(
            p, m, contact_id=claimed.contact_id, contact_created=claimed.contact_created, may_open=True)})).one()
        _stored(result, p["id"], row.conversation_id)
        if (new_wa_id := changed_number(m)) is not None:
            await _change_number(session, p, new_wa_id)
    return result
