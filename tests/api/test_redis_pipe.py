"""`ScriptPipe`: one script over one pipelined Redis connection, answers to the right callers."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from api.redis_pipe import ScriptPipe

ECHO = "return {ARGV[1], redis.call('INCR', KEYS[1])}"


@pytest.fixture
async def pipe(redis_url, redis):  # noqa: ANN001 - `redis` empties the test database first
    p = ScriptPipe(redis_url, ECHO)
    yield p
    p.close()


async def test_concurrent_calls_each_get_their_own_answer(pipe, redis):
    replies = await asyncio.gather(*(pipe(["pipe:n"], [f"call-{i}"]) for i in range(300)))
    assert [r[0] for r in replies] == [f"call-{i}".encode() for i in range(300)]
    assert sorted(r[1] for r in replies) == list(range(1, 301))
    assert int(await redis.get("pipe:n")) == 300  # the URL's database, not database 0


async def test_a_cancelled_caller_does_not_shift_the_answers(pipe):
    await pipe(["pipe:c"], ["warm"])
    first = asyncio.ensure_future(pipe(["pipe:c"], ["a"]))
    second = asyncio.ensure_future(pipe(["pipe:c"], ["b"]))
    await asyncio.sleep(0)
    first.cancel()
    assert (await second)[0] == b"b"
    assert (await pipe(["pipe:c"], ["c"]))[0] == b"c"


async def test_flushed_scripts_are_sent_again_as_eval(pipe, redis):
    await pipe(["pipe:f"], ["x"])
    await redis.script_flush()
    assert (await pipe(["pipe:f"], ["after flush"]))[0] == b"after flush"


async def test_a_lost_connection_fails_the_calls_in_flight_then_reconnects(pipe):
    await pipe(["pipe:l"], ["x"])
    in_flight = asyncio.ensure_future(pipe(["pipe:l"], ["y"]))
    await asyncio.sleep(0)
    pipe._protocol.transport.abort()
    with pytest.raises(RedisConnectionError):
        await in_flight
    assert (await pipe(["pipe:l"], ["z"]))[0] == b"z"


async def test_a_script_error_is_a_response_error_and_the_pipe_goes_on(redis_url, redis):
    failing = ScriptPipe(redis_url, "return redis.call('INCR', KEYS[1])")
    try:
        await redis.set("pipe:text", "not a number")
        with pytest.raises(ResponseError):
            await failing(["pipe:text"])
        assert await failing(["pipe:count"]) == 1
    finally:
        failing.close()


async def test_an_unreachable_redis_is_a_connection_error():
    with pytest.raises(RedisConnectionError):
        await ScriptPipe("redis://127.0.0.1:1/0", ECHO)(["k"], ["v"])
