"""Live replies first on a number a campaign is sending from: the campaign's share of the
number's send-rate bucket (a ``bulk`` `Limit`) never makes a conversation's send wait."""

from __future__ import annotations

from api.outbox import Limit, SendRateLimiter

# rates per hour: however slowly the calls follow each other here, no new send comes due between them
BULK = Limit(rate=10, per_seconds=3600, burst=4, bulk=True)
LIVE = Limit(rate=10, per_seconds=3600, burst=1)  # a conversation's sends (the sender's default burst)


async def test_a_live_send_never_waits_behind_the_campaigns_share(redis):
    limiter = SendRateLimiter(redis)
    # an idle bucket: the campaign gathers its whole burst at once
    assert (await limiter.try_acquire_many("pn-live", None, BULK, None, n=10))[0] == 4
    # a customer's reply right after it: a send at once
    assert await limiter.try_acquire("pn-live", "5511900000001", LIVE, None) == 0.0
    # the campaign waits for what the reply took, about one interval (360 s)
    granted, wait = await limiter.try_acquire_many("pn-live", None, BULK, None, n=10)
    assert granted == 0 and 300 < wait <= 720
    # replies are paced by the number's rate among themselves: the next one waits its turn
    assert await limiter.try_acquire("pn-live", "5511900000002", LIVE, None) > 0


async def test_without_bulk_the_same_burst_would_hold_the_reply_back(redis):
    """The case `bulk` exists for: a campaign taking its burst ahead of the clock leaves
    a reply on the same number waiting for the whole burst."""
    limiter = SendRateLimiter(redis)
    ahead = Limit(rate=10, per_seconds=3600, burst=4)
    assert (await limiter.try_acquire_many("pn-ahead", None, ahead, None, n=10))[0] == 4
    assert await limiter.try_acquire("pn-ahead", "5511900000001", LIVE, None) > 1000


async def test_bulk_and_live_together_keep_to_the_numbers_rate(redis):
    """Whatever the order, the bucket hands out at most the rate plus the two bursts."""
    limiter = SendRateLimiter(redis)
    taken = (await limiter.try_acquire_many("pn-sum", None, BULK, None, n=100))[0]
    for i in range(5):
        taken += 1 if await limiter.try_acquire("pn-sum", f"55119000000{i}", LIVE, None) == 0.0 else 0
        taken += (await limiter.try_acquire_many("pn-sum", None, BULK, None, n=100))[0]
    assert taken == 5  # the campaign's 4 gathered sends, then one reply; nothing more comes due within the hour


async def _earned(redis, number: str, sends: int) -> None:
    """The number's bucket as a campaign leaves it once ``sends`` more have come due
    since its last take (its theoretical arrival time that many intervals behind Redis' clock)."""
    seconds, micros = await redis.time()
    await redis.set(f"ratelimit:wa:number:{{{number}}}", seconds * 1_000_000 + micros - sends * BULK.interval_us)


async def test_a_reply_costs_the_campaign_one_send_not_the_sends_it_earned(redis):
    limiter = SendRateLimiter(redis)
    assert (await limiter.try_acquire_many("pn-pool", None, BULK, None, n=10))[0] == 4
    await _earned(redis, "pn-pool", 3)  # three sends came due while the campaign was busy
    assert await limiter.try_acquire("pn-pool", "5511900000001", LIVE, None) == 0.0  # the reply goes at once
    # the campaign has the two the reply left, at once
    assert (await limiter.try_acquire_many("pn-pool", None, BULK, None, n=10))[0] == 2
    # and nothing more: one reply and the campaign's sends added up to what came due
    assert (await limiter.try_acquire_many("pn-pool", None, BULK, None, n=10))[0] == 0


async def test_a_take_waits_until_the_fewest_sends_worth_taking_have_come_due(redis):
    limiter = SendRateLimiter(redis)
    assert (await limiter.try_acquire_many("pn-least", None, BULK, None, n=10))[0] == 4
    await _earned(redis, "pn-least", 2)
    granted, wait = await limiter.try_acquire_many("pn-least", None, BULK, None, n=10, at_least=3)
    assert granted == 0 and 300 < wait <= 360  # the third comes due one interval (360 s) from now
    assert (await limiter.try_acquire_many("pn-least", None, BULK, None, n=10, at_least=2))[0] == 2
    # never more than asked for: at_least is capped by n
    await _earned(redis, "pn-least", 1)
    assert (await limiter.try_acquire_many("pn-least", None, BULK, None, n=1, at_least=3))[0] == 1


async def test_without_a_campaign_taking_a_reply_finds_the_bucket_as_before(redis):
    """No pool (no bulk take in the last second and its width): a live send starts
    the bucket from the clock, and the time nobody used is not saved up for a burst."""
    limiter = SendRateLimiter(redis)
    await _earned(redis, "pn-nopool", 3)
    assert await limiter.try_acquire("pn-nopool", "5511900000001", LIVE, None) == 0.0
    assert await limiter.try_acquire("pn-nopool", "5511900000002", LIVE, None) > 300


async def test_replies_drawing_on_the_pool_keep_to_the_numbers_rate(redis):
    """Replies charged to the campaign's earned sends take those and then their own
    burst, never more; a grant is never larger than without the pool."""
    limiter = SendRateLimiter(redis)
    assert (await limiter.try_acquire_many("pn-pool-sum", None, BULK, None, n=10))[0] == 4
    await _earned(redis, "pn-pool-sum", 3)
    assert (await limiter.try_acquire_many("pn-pool-sum", "5511900000001", LIVE, None, n=10))[0] == 1
    replies = 1
    for i in range(2, 8):
        replies += await limiter.try_acquire("pn-pool-sum", f"551190000000{i}", LIVE, None) == 0.0
    assert replies == 4  # the 3 earned, then one (the live burst) ahead of the clock
    assert (await limiter.try_acquire_many("pn-pool-sum", None, BULK, None, n=10))[0] == 0


async def test_a_campaign_at_the_tier_leaves_room_for_a_reply(runtime):
    """The runner's own limit on a number's bucket: once the campaign has taken all it
    may, a conversation's send at the number's tier still goes at once."""
    import uuid

    from api.campaigns.control import Plan
    from api.campaigns.runner import CampaignRun

    class _Campaign:  # what CampaignRun reads of a campaign row
        id, organization_id, template_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    plan = Plan(uuid.uuid4(), "pn-tier", None, {"rate_limit_per_second": 1000}, {})
    run = CampaignRun(runtime, _Campaign(), plan)
    assert run.limit.bulk and run.batch == 100 and run.limit.burst == 2 * run.batch
    # an idle bucket: two rounds' worth (two tenths of a second) gathered, a round takes a batch
    assert (await run.limiter.try_acquire_many("pn-tier", None, run.limit, None, run.batch))[0] == run.batch
    assert (await run.limiter.try_acquire_many("pn-tier", None, run.limit, None, run.batch))[0] == run.batch
    reply = Limit(rate=run.rate)  # the conversation sender's limit for this number (burst 1)
    assert await run.limiter.try_acquire("pn-tier", "5531800000001", reply, None) == 0.0
