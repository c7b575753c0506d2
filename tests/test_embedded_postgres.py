"""dev/postgres.py picks a database: DATABASE_URL, else PATH binaries, else the pgserver wheel."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from dev import migrate, postgres
from dev.ports import free_port


def test_without_binaries_on_path_the_pgserver_wheel_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    system_dirs = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
    venv_bin = str(Path(os.__file__).parents[2] / "bin")
    monkeypatch.setenv("PATH", f"{venv_bin}:{system_dirs}")
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert postgres.shutil.which("initdb") is None, "this machine has initdb in a system dir"
    tmp_path.chmod(0o755)
    pg = postgres.start(data_dir=tmp_path / "pg", port=free_port(), log_path=tmp_path / "pg.log")
    try:
        assert pg.kind == "pgserver"
        assert migrate.prepare(pg.dsn, seed=None)
        with psycopg.connect(pg.dsn_for(user="authenticator", password=postgres.PASSWORD)) as conn:
            assert conn.execute("select current_user").fetchone() == ("authenticator",)
    finally:
        pg.stop()


def test_database_url_is_used_as_is(tmp_path: Path, stack):
    assert stack.pg is not None
    pg = postgres.start(
        data_dir=tmp_path / "unused", port=0, log_path=tmp_path / "x.log", database_url=stack.pg.dsn
    )
    assert pg.kind == "DATABASE_URL" and pg.process is None
    assert not (tmp_path / "unused").exists()
