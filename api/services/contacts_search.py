"""Contact search (``?q=``): Portuguese full-text with prefix matching, plus phone numbers.

Every branch below is one GIN index probe, and the condition is their OR, so
PostgreSQL answers it with a BitmapOr of the indexes (no scan of the
organization's contacts). A contact matches when every word of ``q`` matches
it in one of the branches:

- **name and e-mail** (SCHEMA.md's ``idx_contacts_search``): ``?q=mar silv``
  becomes ``to_tsquery('portuguese', 'mar':* & 'silv':*)`` matched against
  `api.db.models.contact_search_document()` — literally the index expression
  (``name || ' ' || COALESCE(email, '')``). Every word must match the start of
  a word of the name or the e-mail. Words with an ``@`` (a typed e-mail,
  possibly partial) are matched as prefixes of the whole e-mail lexeme, without
  the parser splitting them (``'joao@exa':*``).
- **contacts without a name** (``idx_contacts_unnamed_search``, partial, WHERE
  name IS NULL): that document is NULL for them, so they are matched on their
  e-mail and phone numbers instead: each text word must start the e-mail (the
  parser keeps an e-mail as one word), and the query's numbers must start one
  of their phone numbers (below).
- **phone numbers** (``idx_contacts_phone_search``, every contact): a query made
  only of numbers (``+55 (11) 98765-4321``) matches the contacts whose
  ``whatsapp_id`` or ``phone`` starts with its digits taken together
  (separators and spaces ignored), or does so once its first 2 or first 4
  digits are dropped (country code, then area code: ``5511987654321`` is found
  by ``5511…``, ``11 9876…`` or ``98765-43…``). Digits in the middle of a
  number do not match.

The index expressions live in `api.db.models` (``contact_*_search_document``)
and are used literally here, so the planner can match them to the indexes.

Cost (100k contacts in one organization): a selective query's plan runs in
about 0.1 ms. PostgreSQL guesses that a prefix term matches about 2 % of the
rows, though, so a plan made without the organization's row count (a generic
plan of a prepared statement, which the engine's connections switch to after
five runs of one statement) also ANDs the bitmap with ``idx_contacts_organization``,
reading the organization's 100k entries: about 4-6 ms more.
"""

from __future__ import annotations

import re

from sqlalchemy import String, and_, cast, func, literal, literal_column, or_
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.sql.elements import ColumnElement

from api.db.models import (
    Contact, contact_phone_search_document, contact_search_document, contact_unnamed_search_document)

_WORD = re.compile(r"[\w@.+-]+", re.UNICODE)
_NUMBER = re.compile(r"[0-9.+-]*[0-9][0-9.+-]*")
MAX_WORDS = 8
MAX_WORD_CHARS = 255  # longer than any name or e-mail column: a longer prefix matches nothing more


def _words(q: str) -> list[str]:
    """The words of ``q``: letters, digits and ``@ . + -`` only (no quote, backslash,
    NUL or tsquery operator survives), at most `MAX_WORDS` of `MAX_WORD_CHARS`."""
    words = [w.strip(".-+@")[:MAX_WORD_CHARS] for w in _WORD.findall(q)]
    return [w for w in words if w][:MAX_WORDS]


def prefix_tsquery(words: list[str]) -> str | None:
    """A safe tsquery text: each word quoted and prefix-matched, all required."""
    return " & ".join(f"'{w}':*" for w in words) or None


def _text_tsquery(words: list[str]) -> ColumnElement | None:
    """Plain words through the Portuguese parser, e-mail words as whole lexemes; None if none."""
    plain = prefix_tsquery([w for w in words if "@" not in w])
    emails = prefix_tsquery([w.lower() for w in words if "@" in w])
    parts = []
    if plain is not None:
        parts.append(func.to_tsquery(literal_column("'portuguese'"), plain))
    if emails is not None:
        parts.append(cast(literal(emails, String), TSQUERY))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else parts[0].op("&&")(parts[1])


def _is_number(word: str) -> bool:
    return _NUMBER.fullmatch(word) is not None


def _digits_tsquery(numbers: list[str]) -> ColumnElement:
    """The numbers' digits together as one prefix (``11 98765-4321`` → ``'11987654321':*``).

    Cast, not parsed: the documents hold these digit strings as words as they are.
    """
    digits = re.sub(r"[^0-9]", "", "".join(numbers))[:MAX_WORD_CHARS]
    return cast(literal(prefix_tsquery([digits]), String), TSQUERY)


def contact_search(q: str) -> ColumnElement[bool] | None:
    """The ``?q=`` condition on `Contact` (None when ``q`` has no word); the list
    query adds the organization scope."""
    words = _words(q)
    by_name = _text_tsquery(words)
    if by_name is None:
        return None
    numbers = [w for w in words if _is_number(w)]
    texts = [w for w in words if not _is_number(w)]
    branches: list[ColumnElement[bool]] = [contact_search_document().bool_op("@@")(by_name)]
    if not texts:  # numbers only: a phone number, of any contact
        branches.append(contact_phone_search_document().bool_op("@@")(_digits_tsquery(numbers)))
    else:  # contacts without a name: e-mail words, and numbers starting a phone number
        unnamed = _text_tsquery(texts)
        if numbers:
            unnamed = unnamed.op("&&")(_digits_tsquery(numbers))
        branches.append(and_(Contact.name.is_(None),
                             contact_unnamed_search_document().bool_op("@@")(unnamed)))
    return or_(*branches)
