"""Bootstrap a Supabase-compatible database and apply supabase/migrations in order.

Applied versions are recorded in `supabase_migrations.schema_migrations` as the Supabase CLI
does, so a restart applies only new files. Each migration runs in its own transaction; a
failure stops startup with the file name and the Postgres error, leaving nothing of that file.
`supabase/seed.sql` is applied when its content changed since it was last applied
(`supabase_migrations.seed_files`), so seeds must be idempotent. Fixtures that are no part of
the product (`dev/sql/demo_notes.sql`, for the tests and benchmarks) are applied after the
migrations by `prepare(..., fixtures=...)`, every time, so they must be idempotent too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from dev.env import ROOT

BOOTSTRAP = Path(__file__).parent / "sql" / "bootstrap.sql"
DEMO_NOTES = Path(__file__).parent / "sql" / "demo_notes.sql"
"""A test/benchmark fixture: public.demo_note_add(), the smallest outbox command."""
MIGRATIONS = ROOT / "supabase" / "migrations"
SEED = ROOT / "supabase" / "seed.sql"
_NAME = re.compile(r"^(\d{14})_(\w+)\.sql$")


class MigrationError(RuntimeError):
    """A migration (or the seed) failed; the message names the file and the Postgres error."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path


def discover(directory: Path = MIGRATIONS) -> list[Migration]:
    """Migrations in file-name order; a misnamed .sql file is an error, not silently skipped."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(
                f"{path.name}: migration files are named <YYYYMMDDHHMMSS>_<name>.sql"
            )
        found.append(Migration(version=match[1], name=match[2], path=path))
    return found


def bootstrap(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(BOOTSTRAP.read_text().encode())


def _describe(exc: psycopg.Error) -> str:
    diag = exc.diag
    parts = [diag.message_primary or str(exc).strip()]
    if diag.message_detail:
        parts.append(f"DETAIL: {diag.message_detail}")
    if diag.context:
        parts.append(f"CONTEXT: {diag.context.strip()}")
    if diag.statement_position:
        parts.append(f"at character {diag.statement_position}")
    return " | ".join(parts)


def apply_migrations(dsn: str, directory: Path = MIGRATIONS) -> list[str]:
    """Apply every migration not yet recorded; returns the file names applied now."""
    applied_now: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        done = {
            row[0]
            for row in conn.execute("select version from supabase_migrations.schema_migrations")
        }
        for migration in discover(directory):
            if migration.version in done:
                continue
            sql = migration.path.read_text()
            try:
                with conn.transaction():
                    conn.execute(sql.encode())
                    conn.execute(
                        "insert into supabase_migrations.schema_migrations"
                        " (version, statements, name) values (%s, %s, %s)",
                        (migration.version, [sql], migration.name),
                    )
            except psycopg.Error as exc:
                raise MigrationError(
                    f"migration {migration.path.name} failed: {_describe(exc)}"
                ) from exc
            applied_now.append(migration.path.name)
        conn.execute("notify pgrst, 'reload schema'")
    return applied_now


def apply_seed(dsn: str, path: Path = SEED) -> bool:
    """Apply the seed file if it changed since last time; returns whether it ran."""
    if not path.exists():
        return False
    sql = path.read_text()
    digest = hashlib.sha256(sql.encode()).hexdigest()
    key = path.name
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "select hash from supabase_migrations.seed_files where path = %s", (key,)
        ).fetchone()
        if row and row[0] == digest:
            return False
        try:
            with conn.transaction():
                conn.execute(sql.encode())
                conn.execute(
                    "insert into supabase_migrations.seed_files (path, hash) values (%s, %s)"
                    " on conflict (path) do update set hash = excluded.hash",
                    (key, digest),
                )
        except psycopg.Error as exc:
            raise MigrationError(f"seed {path.name} failed: {_describe(exc)}") from exc
        conn.execute("notify pgrst, 'reload schema'")
    return True


def apply_fixture(dsn: str, path: Path) -> None:
    """Run one idempotent SQL file (not a migration: nothing is recorded)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            with conn.transaction():
                conn.execute(path.read_text().encode())
        except psycopg.Error as exc:
            raise MigrationError(f"fixture {path.name} failed: {_describe(exc)}") from exc
        conn.execute("notify pgrst, 'reload schema'")


def prepare(
    dsn: str,
    *,
    migrations: Path = MIGRATIONS,
    seed: Path | None = SEED,
    fixtures: Sequence[Path] = (),
) -> list[str]:
    """Bootstrap, migrate, (optionally) seed, then apply `fixtures`; returns the migrations
    applied now."""
    bootstrap(dsn)
    applied = apply_migrations(dsn, migrations)
    if seed is not None:
        apply_seed(dsn, seed)
    for fixture in fixtures:
        apply_fixture(dsn, fixture)
    return applied
