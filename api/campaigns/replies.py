"""A customer's message seen from the campaigns: a reply to one, an opt-out, an opt-in.

- **Reply**: the conversation's latest outbound message is a campaign's
  (``metadata.campaign_id``): its recipient gets ``replied_at`` (the campaign's
  ``replied_count`` moves with it), and the campaign's ``flow_id``, if it has
  one, is the flow the reply starts (else the chatbot's rules decide).
- **Opt-out**: the message (a text, or a template's quick-reply button) is one
  of the organization's opt-out keywords (``organizations.settings.
  campaign_opt_out_keywords``, default `DEFAULT_OPT_OUT_KEYWORDS`; the whole
  message, ignoring case and accents): the contact gets ``opt_in = false``
  with ``opt_out_date``, and every pending recipient of theirs not yet handed
  to the outbox is ``skipped`` ("opted out"). The runner also skips any
  recipient whose contact opted out after the audience was materialised.
- **Opt-in**: an opted-out contact's message is one of the opt-in keywords
  (``campaign_opt_in_keywords``, default `DEFAULT_OPT_IN_KEYWORDS`, matched as
  opt-out words are): the contact gets ``opt_in = true`` with ``opt_in_date``
  and later audiences include it again; recipients skipped while it was out
  stay skipped. From a contact who is not opted out the word is an ordinary message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from api.db.session import bind
from api.events import emit_conn, event
from api.events.catalogue import contact_updated_payload
from api.runtime_context import Runtime
from engine.texts import language_of

DEFAULT_OPT_OUT_KEYWORDS = ("PARAR", "STOP")
OPT_OUT_REPLY_SETTING = "campaign_opt_out_reply"
DEFAULT_OPT_IN_KEYWORDS = ("VOLTAR", "START")
OPT_IN_REPLY_SETTING = "campaign_opt_in_reply"
# what an opted-out contact is told when the organization wrote no reply, in its chatbot's
# language (engine/texts.py), then how to come back (the first opt-in word); and the same the
# other way round
DEFAULT_OPT_OUT_REPLY = {
    "pt-BR": ("Pronto! Você não receberá mais nossas mensagens.", "Para voltar a recebê-las, responda {word}."),
    "en": ("Done! You will not receive our messages any more.", "To receive them again, reply {word}."),
    "es": ("¡Listo! Ya no recibirás nuestros mensajes.", "Para volver a recibirlos, responde {word}."),
}
DEFAULT_OPT_IN_REPLY = {
    "pt-BR": ("Pronto! Você voltará a receber nossas mensagens.", "Para deixar de recebê-las, responda {word}."),
    "en": ("Done! You will receive our messages again.", "To stop them, reply {word}."),
    "es": ("¡Listo! Volverás a recibir nuestros mensajes.", "Para dejar de recibirlos, responde {word}."),
}

_REPLY = """
WITH last AS (
  SELECT m.id, CAST(m.metadata->>'campaign_id' AS uuid) AS campaign_id FROM messages m
   WHERE m.conversation_id = :conversation AND m.direction = 'outbound'
   ORDER BY m.created_at DESC LIMIT 1
), replied AS (
  UPDATE campaign_recipients r SET replied_at = now()
    FROM last
   WHERE last.campaign_id IS NOT NULL AND r.message_id = last.id AND r.replied_at IS NULL
  RETURNING r.id
)
SELECT (SELECT ca.flow_id FROM campaigns ca JOIN last ON ca.id = last.campaign_id
         WHERE ca.organization_id = :org) AS flow_id,
       (SELECT o.settings FROM organizations o WHERE o.id = :org) AS settings,
       (SELECT count(*) FROM replied) AS replied
"""

# the contact's columns its contact.updated event carries (`api.events.contact_payload`), and
# ``was``: its opt_in before the statement (the event is written only when that changed)
_CONTACT = ("c.id, c.whatsapp_id, c.bsuid, c.whatsapp_name, c.name, c.email, c.phone, c.tags, c.attributes, "
            "c.opt_in_date, c.opt_out_date, b.opt_in AS was")

# the campaigns whose recipients the opt-out skips, locked first and in id order, as a transition
# locks a campaign before its recipients (`control.cancel`): a recipient locked first would wait
# for the campaign's counters (the trigger) while a cancel holding the campaign waits for it
_OPT_OUT_CAMPAIGNS = """
SELECT c.id FROM campaigns c
 WHERE c.organization_id = :org AND c.status NOT IN ('draft', 'scheduled') AND c.started_at IS NOT NULL
   AND c.id IN (SELECT r.campaign_id FROM campaign_recipients r
                 WHERE r.contact_id = :contact AND r.status = 'pending' AND r.message_id IS NULL)
 ORDER BY c.id FOR NO KEY UPDATE OF c
"""

_OPT_OUT = f"""
WITH before AS (
  SELECT id, opt_in FROM contacts WHERE id = :contact AND organization_id = :org FOR NO KEY UPDATE
), contact AS (
  -- already out: the date it went out stays; back in since (opt_in true): a new opt-out, today
  UPDATE contacts c SET opt_in = false, updated_at = now(),
         opt_out_date = CASE WHEN c.opt_in IS FALSE THEN COALESCE(c.opt_out_date, now()) ELSE now() END
    FROM before b
   WHERE c.id = b.id
  RETURNING {_CONTACT}
), skipped AS (
  UPDATE campaign_recipients r SET status = 'skipped', skip_reason = 'opted out'
   WHERE r.contact_id IN (SELECT id FROM contact) AND r.status = 'pending' AND r.message_id IS NULL
     -- a campaign that has not started (a draft, a scheduled one, one paused when due): its
     -- staged rows are chosen again at its start, and an opted-out contact's dropped then
     AND r.campaign_id IN (SELECT id FROM campaigns WHERE organization_id = :org
                            AND status NOT IN ('draft', 'scheduled') AND started_at IS NOT NULL)
  RETURNING 1
)
SELECT contact.*, (SELECT count(*) FROM skipped) AS skipped FROM contact
"""

# back in: dated now; already back in since the message arrived (the step is decided again
# after a race): nothing changes, and it still answers as the opt-in it was
_OPT_IN = f"""
WITH before AS (
  SELECT id, opt_in FROM contacts WHERE id = :contact AND organization_id = :org FOR NO KEY UPDATE
)
UPDATE contacts c SET opt_in = true, updated_at = now(),
       opt_in_date = CASE WHEN c.opt_in IS FALSE THEN now() ELSE c.opt_in_date END
  FROM before b
 WHERE c.id = b.id AND (c.opt_in IS FALSE OR c.opt_in_date >= :since)
RETURNING {_CONTACT}
"""


async def _consent_changed(conn: Any, organization_id: Any, row: Any, opt_in: bool) -> None:
    """contact.updated for a keyword's opt-out or opt-in that changed the contact (webhook
    subscribers, a CRM, hear of it as of an agent's ``PATCH /contacts``)."""
    if row is None or (row["was"] is not False if opt_in else row["was"] is False):
        return  # no contact, or it already was so (a redelivery, a second opt-out)
    dated = "opt_in_date" if opt_in else "opt_out_date"
    changes = {"opt_in": opt_in, dated: row[dated].isoformat() if row[dated] else None}
    await emit_conn(conn, event(organization_id, "contact.updated", contact_updated_payload(row, changes), row["id"]))


@dataclass(frozen=True)
class CampaignReply:
    flow_id: uuid.UUID | None  # the flow the campaign's reply starts
    opt_out_keywords: tuple[str, ...]
    opt_out_reply: str | None  # what the customer is told once opted out (None: the default; "": nothing)
    opt_in_keywords: tuple[str, ...] = DEFAULT_OPT_IN_KEYWORDS
    opt_in_reply: str | None = None  # what the customer is told once back in (None: the default; "": nothing)

    def opt_out_text(self, language: object) -> str | None:
        """The opt-out reply: the organization's, else `DEFAULT_OPT_OUT_REPLY` in ``language``."""
        return _reply_text(self.opt_out_reply, DEFAULT_OPT_OUT_REPLY, language, self.opt_in_keywords)

    def opt_in_text(self, language: object) -> str | None:
        """The opt-in reply: the organization's, else `DEFAULT_OPT_IN_REPLY` in ``language``."""
        return _reply_text(self.opt_in_reply, DEFAULT_OPT_IN_REPLY, language, self.opt_out_keywords)


def _reply_text(given: str | None, defaults: dict[str, tuple[str, str]], language: object,
                other_words: tuple[str, ...]) -> str | None:
    """The organization's reply (``""``: none), else the default in ``language``, naming the first
    word that undoes it."""
    if given is not None:
        return given or None
    done, undo = defaults[language_of(language)]
    return f"{done} {undo.format(word=other_words[0])}" if other_words else done


async def campaign_reply(rt: Runtime, organization_id: Any, conversation_id: Any) -> CampaignReply:
    """Record a reply to a campaign (if the conversation's last outbound message is one's) and
    say which flow it starts and which keywords opt out."""
    async with rt.db.raw() as conn:
        row = await conn.fetchrow(*bind(_REPLY, {"conversation": conversation_id, "org": organization_id}))
    return campaign_reply_from(row["settings"], row["flow_id"])


def campaign_reply_from(settings: Any, flow_id: uuid.UUID | None = None) -> CampaignReply:
    """A `CampaignReply` from the organization's ``settings`` and the flow the campaign
    starts. With no flow it is the answer for a conversation whose last outbound message
    is no campaign's (nothing to record): the conversation step reads the settings and
    that message with its load (api/conversations/load.py) and calls `campaign_reply`
    only when that message is a campaign's."""
    settings = settings or {}
    if isinstance(settings, str):
        import json

        settings = json.loads(settings)
    reply = settings.get(OPT_OUT_REPLY_SETTING)
    back = settings.get(OPT_IN_REPLY_SETTING)
    return CampaignReply(flow_id, _keywords(settings, "campaign_opt_out_keywords", DEFAULT_OPT_OUT_KEYWORDS),
                         reply if isinstance(reply, str) else None,
                         _keywords(settings, "campaign_opt_in_keywords", DEFAULT_OPT_IN_KEYWORDS),
                         back if isinstance(back, str) else None)


def _keywords(settings: dict[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    keywords = settings.get(key)
    if not isinstance(keywords, list):
        keywords = list(default)
    return tuple(str(k) for k in keywords if k)


async def opt_out(rt: Runtime, organization_id: Any, contact_id: Any) -> int:
    """Opt the contact out of campaigns; how many pending recipients were skipped."""
    params = {"contact": contact_id, "org": organization_id}
    async with rt.db.raw() as conn, conn.transaction():
        await conn.execute(*bind(_OPT_OUT_CAMPAIGNS, params))
        row = await conn.fetchrow(*bind(_OPT_OUT, params))
        await _consent_changed(conn, organization_id, row, opt_in=False)
    return int(row["skipped"]) if row else 0


async def opt_in(rt: Runtime, organization_id: Any, contact_id: Any, since: Any) -> bool:
    """Opt the contact back in if it is opted out (or was opted back in by a message that arrived
    at ``since``); False: it was not out, and the message is an ordinary one."""
    async with rt.db.raw() as conn, conn.transaction():
        row = await conn.fetchrow(*bind(_OPT_IN, {"contact": contact_id, "org": organization_id, "since": since}))
        await _consent_changed(conn, organization_id, row, opt_in=True)
    return row is not None


__all__ = ["CampaignReply", "DEFAULT_OPT_IN_KEYWORDS", "DEFAULT_OPT_IN_REPLY", "DEFAULT_OPT_OUT_KEYWORDS",
           "DEFAULT_OPT_OUT_REPLY",
           "OPT_IN_REPLY_SETTING", "OPT_OUT_REPLY_SETTING", "campaign_reply", "campaign_reply_from", "opt_in",
           "opt_out"]
