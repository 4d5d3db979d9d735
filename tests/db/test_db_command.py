"""`pytake db upgrade | downgrade | current` on a real database."""

from __future__ import annotations

from api.db.migrations import head
from pytake.cli import main


def test_current_upgrade_downgrade_report_the_revision(empty_database_url, capsys):
    url = ["--database-url", empty_database_url]
    assert main(["db", "current", *url]) == 0
    assert "base" in capsys.readouterr().out
    assert main(["db", "upgrade", *url]) == 0
    assert f"database at {head()}" in capsys.readouterr().out
    assert main(["db", "current", *url]) == 0
    assert capsys.readouterr().out.strip() == f"{head()} (head)"
    assert main(["db", "downgrade", "0001", *url]) == 0
    assert "database at 0001" in capsys.readouterr().out


def test_unknown_revision_is_a_clear_error(empty_database_url, capsys):
    assert main(["db", "upgrade", "nonsense", "--database-url", empty_database_url]) == 1
    assert "nonsense" in capsys.readouterr().err
