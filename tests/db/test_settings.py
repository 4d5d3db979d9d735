"""Configuration from the environment; dev secrets generated once and kept."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from api.settings import Settings, SettingsError


def test_missing_urls_mean_embedded_servers(tmp_path):
    s = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path)})
    assert s.embedded_database and s.embedded_redis and s.data_dir == tmp_path


def test_database_url_is_read_with_the_asyncpg_driver(tmp_path):
    s = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path),
                           "DATABASE_URL": "postgres://u:p@db:5432/pytake",
                           "REDIS_URL": "redis://cache:6379/0",
                           "MONGODB_URL": "mongodb://logs:27017"})
    assert s.database_url == "postgresql+asyncpg://u:p@db:5432/pytake"
    assert (s.redis_url, s.mongodb_url) == ("redis://cache:6379/0", "mongodb://logs:27017")


def test_generated_encryption_key_is_kept_across_restarts(tmp_path):
    first = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path)})
    token = Fernet(first.encryption_key).encrypt(b"EAAG-access-token")
    second = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path)})
    assert Fernet(second.encryption_key).decrypt(token) == b"EAAG-access-token"
    assert second.secret_key == first.secret_key
    assert (tmp_path / "encryption.key").stat().st_mode & 0o077 == 0


def test_configured_keys_win(tmp_path):
    key = Fernet.generate_key().decode()
    s = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path), "PYTAKE_ENCRYPTION_KEY": key,
                           "PYTAKE_SECRET_KEY": "s3cret"})
    assert (s.encryption_key, s.secret_key) == (key, "s3cret")
    assert not (tmp_path / "encryption.key").exists()


def test_production_requires_explicit_keys(tmp_path):
    with pytest.raises(SettingsError, match="PYTAKE_SECRET_KEY"):
        Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path), "PYTAKE_ENV": "production"})


def test_malformed_encryption_key_is_named(tmp_path):
    with pytest.raises(SettingsError, match="PYTAKE_ENCRYPTION_KEY"):
        Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path), "PYTAKE_ENCRYPTION_KEY": "short"})


def test_runtime_recovery_timings_have_defaults_and_are_read_from_the_environment(tmp_path):
    defaults = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path)})
    assert (defaults.runtime_lease_seconds, defaults.runtime_sweep_seconds, defaults.runtime_stale_seconds) == (4, 2, 4)
    tuned = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path), "PYTAKE_RUNTIME_LEASE_SECONDS": "2.5",
                               "PYTAKE_RUNTIME_SWEEP_SECONDS": "1"})
    assert (tuned.runtime_lease_seconds, tuned.runtime_sweep_seconds) == (2.5, 1.0)


@pytest.mark.parametrize("value", ["soon", "0", "-1"])
def test_a_bad_runtime_timing_is_named(tmp_path, value):
    with pytest.raises(SettingsError, match="PYTAKE_RUNTIME_STALE_SECONDS"):
        Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path), "PYTAKE_RUNTIME_STALE_SECONDS": value})


def test_pool_sizes_have_defaults_and_are_read_from_the_environment(tmp_path):
    defaults = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path)})
    assert (defaults.db_pool_size, defaults.redis_pool_size, defaults.graph_connections) == (10, 200, 64)
    tuned = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path), "PYTAKE_DB_POOL": "20", "PYTAKE_REDIS_POOL": "50",
                               "PYTAKE_GRAPH_CONNECTIONS": "8"})
    assert (tuned.db_pool_size, tuned.redis_pool_size, tuned.graph_connections) == (20, 50, 8)


@pytest.mark.parametrize("value", ["many", "0", "-3"])
def test_a_bad_pool_size_is_named(tmp_path, value):
    with pytest.raises(SettingsError, match="PYTAKE_DB_POOL must be"):
        Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path), "PYTAKE_DB_POOL": value})


def test_ai_providers_are_read_under_their_own_names_first_then_pytake_ones(tmp_path):
    s = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path), "OPENAI_API_KEY": "sk-own",
                           "PYTAKE_OPENAI_API_KEY": "sk-pytake", "PYTAKE_OPENAI_BASE_URL": "http://ai.local/v1",
                           "ANTHROPIC_API_KEY": "ak", "ANTHROPIC_BASE_URL": "http://claude.local"})
    assert (s.openai_api_key, s.openai_base_url, s.anthropic_api_key, s.anthropic_base_url) == (
        "sk-own", "http://ai.local/v1", "ak", "http://claude.local")
    assert Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path)}).openai_api_key is None


def test_commands_that_store_nothing_generate_no_secret_files(tmp_path):
    s = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path / "data"), "OPENAI_API_KEY": "sk"}, keys=False)
    assert s.openai_api_key == "sk" and s.secret_key == "" and not (tmp_path / "data").exists()


def test_replica_url_and_read_your_writes_window_are_read_from_the_environment(tmp_path):
    s = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path)})
    assert s.database_replica_url is None and s.replica_read_your_writes_seconds == 60.0
    s = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path), "DATABASE_REPLICA_URL": "postgres://u@replica/pytake",
                           "PYTAKE_REPLICA_READ_YOUR_WRITES_SECONDS": "15"})
    assert s.database_replica_url == "postgresql+asyncpg://u@replica/pytake"
    assert s.replica_read_your_writes_seconds == 15.0
    with pytest.raises(SettingsError, match="DATABASE_REPLICA_URL: pooler=odd"):
        Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path), "DATABASE_REPLICA_URL": "postgres://r/p?pooler=odd"})
    with pytest.raises(SettingsError, match="PYTAKE_REPLICA_READ_YOUR_WRITES_SECONDS"):
        Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path), "PYTAKE_REPLICA_READ_YOUR_WRITES_SECONDS": "0"})


def test_shutdown_and_log_format_settings(tmp_path):
    s = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path)})
    assert (s.shutdown_delay_seconds, s.shutdown_grace_seconds, s.log_format) == (0.0, 20.0, "text")
    s = Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path), "PYTAKE_SHUTDOWN_DELAY_SECONDS": "5",
                           "PYTAKE_SHUTDOWN_GRACE_SECONDS": "30", "PYTAKE_LOG_FORMAT": "JSON"})
    assert (s.shutdown_delay_seconds, s.shutdown_grace_seconds, s.log_format) == (5.0, 30.0, "json")
    with pytest.raises(SettingsError, match="PYTAKE_LOG_FORMAT must be one of text, json"):
        Settings.from_env({"PYTAKE_DATA_DIR": str(tmp_path), "PYTAKE_LOG_FORMAT": "xml"})
