"""Contact search: Portuguese full-text with prefix matching, on the indexed expression.

``?q=mar silv`` becomes ``to_tsquery('portuguese', 'mar':* & 'silv':*)`` matched
against `api.db.models.contact_search_document()` — literally the expression
of ``idx_contacts_search`` (``name || ' ' || COALESCE(email, '')``), so the GIN
index is used. Every word must match the start of a word of the name or the
e-mail. Words with an ``@`` (a typed e-mail, possibly partial) are matched as
prefixes of the whole e-mail lexeme, without the parser splitting them
(``'joao@exa':*``). A contact without a name is not found by search (the indexed
expression is NULL for it), as the index defines.
"""

from __future__ import annotations

import re

from sqlalchemy import cast, func, literal_column
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.sql.elements import ColumnElement

from api.db.models import contact_search_document

_WORD = re.compile(r"[\w@.+-]+", re.UNICODE)
MAX_WORDS = 8


def _words(q: str) -> list[str]:
    words = [w.strip(".-+@") for w in _WORD.findall(q)]
    return [w for w in words if w][:MAX_WORDS]


def prefix_tsquery(words: list[str]) -> str | None:
    """A safe tsquery text: each word quoted and prefix-matched, all required."""
    return " & ".join(f"'{w}':*" for w in words) or None


def contact_search(q: str) -> ColumnElement[bool] | None:
    words = _words(q)
    plain = prefix_tsquery([w for w in words if "@" not in w])
    emails = prefix_tsquery([w.lower() for w in words if "@" in w])
    parts = []
    if plain is not None:
        parts.append(func.to_tsquery(literal_column("'portuguese'"), plain))
    if emails is not None:
        parts.append(cast(emails, TSQUERY))
    if not parts:
        return None
    tsquery = parts[0] if len(parts) == 1 else parts[0].op("&&")(parts[1])
    return contact_search_document().bool_op("@@")(tsquery)
