"""Concurrent test sessions on one Redis server each get a database of their own,
whichever database their REDIS_URL names (tests/conftest.py `claim_redis_index`)."""

from __future__ import annotations

import os
import secrets

from tests.conftest import _with_db, claim_redis_index, release_redis_index


def test_sessions_given_different_databases_in_their_urls_never_share_an_index(_servers) -> None:  # noqa: ANN001
    server = _servers[1]
    holders = [f"{os.getpid()}:{secrets.token_hex(4)}" for _ in range(3)]
    urls = [_with_db(server, 0), _with_db(server, 5), _with_db(server, 6)]
    claimed: list[tuple[str, int, str]] = []
    try:
        for url, me in zip(urls, holders):
            index = claim_redis_index(url, me)
            assert index is not None
            claimed.append((url, index, me))
        indexes = [index for _, index, _ in claimed]
        assert len(set(indexes)) == 3, f"two sessions were given the same database: {indexes}"
    finally:
        for url, index, me in claimed:
            release_redis_index(url, index, me)
