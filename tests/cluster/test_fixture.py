"""The fixture's cluster is a real one: 3 primaries, 3 replicas, keys spread across them."""

from tests.cluster.conftest import _info, cli


async def test_the_cluster_has_three_primaries_each_with_a_replica(redis_cluster, cluster_redis) -> None:
    nodes = redis_cluster.nodes()
    assert len([n for n in nodes if "master" in n["flags"]]) == 3
    assert len([n for n in nodes if "slave" in n["flags"]]) == 3
    for i in range(50):
        await cluster_redis.set(f"spread:{i}", i)
    held = [int(cli(port, "DBSIZE")) for port in redis_cluster.primaries()]
    assert sum(held) == 50 and all(held), held  # every primary holds some of the keys


async def test_each_replica_holds_its_primarys_data_before_a_test_runs(redis_cluster, cluster_redis) -> None:
    """A replica that never finished its first sync is never promoted (Redis counts it as
    disconnected for too long): a test that kills its primary would wait in vain."""
    replicas = [int(n["port"]) for n in redis_cluster.nodes() if "slave" in n["flags"]]
    assert len(replicas) == 3
    assert all(_info(port, "replication").get("master_link_status") == "up" for port in replicas)
