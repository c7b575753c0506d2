"""Bootstrap + migrations: recorded like the Supabase CLI, applied once, failing loudly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from dev import migrate
from dev.stack import Stack, StackConfig
from tests.support import fresh_database


@pytest.fixture
def fresh_db(stack: Stack) -> Iterator[str]:
    """A new empty database in the session's cluster."""
    with fresh_database(stack) as dsn:
        yield dsn


def versions(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("select version from supabase_migrations.schema_migrations order by 1")
        return [row[0] for row in rows]


def test_project_migrations_apply_once_and_are_recorded(fresh_db: str):
    first = migrate.prepare(fresh_db, seed=None)
    assert first == [m.path.name for m in migrate.discover()]
    assert versions(fresh_db) == [m.version for m in migrate.discover()]
    assert migrate.prepare(fresh_db, seed=None) == []  # second run: nothing to do


def test_a_new_file_is_applied_on_the_next_start(fresh_db: str, tmp_path: Path):
    (tmp_path / "20260101000000_one.sql").write_text("create table public.one (id int);")
    assert migrate.prepare(fresh_db, migrations=tmp_path, seed=None) == ["20260101000000_one.sql"]
    (tmp_path / "20260102000000_two.sql").write_text("create table public.two (id int);")
    assert migrate.prepare(fresh_db, migrations=tmp_path, seed=None) == ["20260102000000_two.sql"]


def test_broken_migration_names_its_file_and_leaves_nothing_behind(fresh_db: str, tmp_path: Path):
    (tmp_path / "20260101000000_good.sql").write_text("create table public.good (id int);")
    (tmp_path / "20260102000000_broken.sql").write_text(
        "create table public.half (id int);\ninsert into public.nope values (1);"
    )
    with pytest.raises(migrate.MigrationError) as caught:
        migrate.prepare(fresh_db, migrations=tmp_path, seed=None)
    message = str(caught.value)
    assert "20260102000000_broken.sql" in message
    assert 'relation "public.nope" does not exist' in message
    assert versions(fresh_db) == ["20260101000000"]
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("select to_regclass('public.half')").fetchone() == (None,)


def test_misnamed_migration_file_is_an_error(tmp_path: Path):
    (tmp_path / "add_things.sql").write_text("select 1;")
    with pytest.raises(migrate.MigrationError, match="add_things.sql"):
        migrate.discover(tmp_path)


def test_seed_runs_again_only_when_it_changes(fresh_db: str, tmp_path: Path):
    migrate.prepare(fresh_db, seed=None)
    seed = tmp_path / "seed.sql"
    seed.write_text("insert into public.profiles (id) values ('s1') on conflict do nothing;")
    assert migrate.apply_seed(fresh_db, seed) is True
    assert migrate.apply_seed(fresh_db, seed) is False
    seed.write_text(seed.read_text() + "\ninsert into public.profiles (id) values ('s2');")
    assert migrate.apply_seed(fresh_db, seed) is True


def test_stack_start_fails_on_a_broken_migration_and_stops_postgres(tmp_path: Path):
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "20260101000000_oops.sql").write_text("select * from missing_table;")
    config = StackConfig.ephemeral_for_tests(jwt_secret="x" * 40, cron_secret="c")
    config.migrations_dir = migrations
    stack = Stack(config)
    with pytest.raises(migrate.MigrationError, match="20260101000000_oops.sql"):
        stack.start()
    assert stack.pg is None  # stopped again, nothing left running
