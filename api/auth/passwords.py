"""Password hashing with Argon2id (argon2-cffi's recommended parameters).

Argon2id is slow on purpose (tens to hundreds of ms of CPU per hash). Request
handlers use the ``*_async`` forms, which run it on a dedicated thread pool
(one thread per CPU; argon2-cffi releases the GIL): the event loop keeps
serving other requests, and a burst of logins queues here instead of filling
asyncio's default executor, which other work (DNS look-ups when the database
pool opens a connection, ``asyncio.to_thread``) also needs.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

# A real hash of a random password: verifying against it when the email is
# unknown makes a failed login cost the same whether or not the user exists.
_DUMMY_HASH = _hasher.hash("pytake-dummy-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; False for a mismatch or an unusable hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="argon2")


async def hash_password_async(password: str) -> str:
    """`hash_password` off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """`verify_password` off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, verify_password, password_hash, password)
