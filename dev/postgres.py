"""Embedded Postgres for `make dev` and the tests.

Which database, in order:
1. `DATABASE_URL` if set (any Postgres whose user may create roles and schemas);
2. a private cluster from the Postgres binaries on PATH (`initdb`, `postgres`), run as the
   unprivileged `postgres` user when we are root (Postgres refuses to run as root);
3. the `pgserver` wheel's bundled binaries when there are none on PATH.

`make dev` keeps its cluster in `.data/postgres` (survives restarts); tests get a fresh
throwaway cluster with durability off for speed.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psycopg

from dev.proc import die_with_parent

SUPERUSER = "postgres"
PASSWORD = "postgres"  # noqa: S105 - local only; the cluster listens on loopback
RUN_AS = "postgres"
READY_TIMEOUT_S = 60.0


class PostgresError(RuntimeError):
    """Postgres could not be started; the message says why and where the log is."""


@dataclass
class Postgres:
    """A running database: `dsn` connects as a superuser."""

    dsn: str
    kind: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _stopper: object = field(default=None, repr=False)
    _start_again: Callable[[], Postgres] | None = field(default=None, repr=False)

    def restarted(self) -> Postgres:
        """Stop this server and start it again on the same data and port (outage tests)."""
        if self._start_again is None:
            raise PostgresError(f"a {self.kind} database cannot be restarted from here")
        self.stop()
        return self._start_again()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        stop = getattr(self._stopper, "cleanup", None)
        if callable(stop):
            stop()

    def dsn_for(self, *, user: str, password: str, dbname: str | None = None) -> str:
        """The same server as another role (PostgREST connects as `authenticator`)."""
        info = psycopg.conninfo.conninfo_to_dict(self.dsn)
        info.update(user=user, password=password)
        if dbname:
            info["dbname"] = dbname
        return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items()})


def start(
    *,
    data_dir: Path,
    port: int,
    log_path: Path,
    ephemeral: bool = False,
    database_url: str | None = None,
) -> Postgres:
    """Start (or connect to) Postgres and wait until it accepts connections."""
    if database_url:
        _wait_ready(database_url, None, log_path)
        return Postgres(dsn=database_url, kind="DATABASE_URL")
    if shutil.which("initdb") and shutil.which("postgres"):
        return _start_binaries(data_dir, port, log_path, ephemeral=ephemeral)
    return _start_pgserver(data_dir, log_path)


def _is_root() -> bool:
    return os.geteuid() == 0


def _give_to_postgres(path: Path) -> None:
    if _is_root():
        entry = pwd.getpwnam(RUN_AS)
        shutil.chown(path, entry.pw_uid, entry.pw_gid)


def _start_binaries(data_dir: Path, port: int, log_path: Path, *, ephemeral: bool) -> Postgres:
    if _is_root():
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError as exc:
            raise PostgresError(
                f"running as root, Postgres needs an unprivileged user named {RUN_AS!r}: "
                f"`useradd --system {RUN_AS}`, or set DATABASE_URL"
            ) from exc
    user = RUN_AS if _is_root() else None
    log_path.parent.mkdir(parents=True, exist_ok=True)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if user and not _reachable_by(data_dir.parent, user):
        data_dir = _outside_private_home(data_dir)
    if not (data_dir / "PG_VERSION").exists():
        _initdb(data_dir, log_path, user)
    _give_to_postgres(data_dir)
    settings = [
        "-c", "listen_addresses=127.0.0.1",
        "-c", f"port={port}",
        "-c", f"unix_socket_directories={data_dir}",
        "-c", "max_connections=200",
    ]  # fmt: skip
    if ephemeral:
        settings += [
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
    log: IO[bytes] = log_path.open("ab")
    process = subprocess.Popen(
        ["postgres", "-D", str(data_dir), *settings],
        stdout=log,
        stderr=subprocess.STDOUT,
        user=user,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    log.close()
    dsn = f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{port}/postgres"
    handle = Postgres(
        dsn=dsn,
        kind="binaries",
        process=process,
        log_path=log_path,
        _start_again=lambda: _start_binaries(data_dir, port, log_path, ephemeral=ephemeral),
    )
    try:
        _wait_ready(dsn, process, log_path)
    except BaseException:
        handle.stop()
        raise
    return handle


def _reachable_by(path: Path, user: str) -> bool:
    """Can `user` traverse every directory down to `path` (it is root's tree otherwise)?"""
    entry = pwd.getpwnam(user)
    for directory in [path.resolve(), *path.resolve().parents]:
        mode = directory.stat()
        if mode.st_uid == entry.pw_uid:
            continue
        if mode.st_gid == entry.pw_gid and mode.st_mode & stat.S_IXGRP:
            continue
        if not mode.st_mode & stat.S_IXOTH:
            return False
    return True


def _outside_private_home(data_dir: Path) -> Path:
    """A stable place the postgres user can reach, for a data dir under e.g. /root (0700).

    `<parent>/postgres.location` names it; when that marker is gone (`make reset` wiped the
    parent), the old cluster at the stable place is wiped too, so a reset is a real reset.
    """
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    home = Path("/var/tmp") / f"sockless-{digest}"  # noqa: S108 - root-owned, 0755, named per project
    target = home / data_dir.name
    marker = data_dir.parent / f"{data_dir.name}.location"
    if not marker.exists() and home.exists():
        shutil.rmtree(home)
    home.mkdir(mode=0o755, exist_ok=True)
    marker.write_text(str(target) + "\n")
    return target


def _initdb(data_dir: Path, log_path: Path, user: str | None) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    _give_to_postgres(data_dir)
    with tempfile.TemporaryDirectory(prefix="sockless-initdb-") as scratch:
        pwfile = Path(scratch) / "pw"
        pwfile.write_text(PASSWORD + "\n")
        _give_to_postgres(Path(scratch))
        _give_to_postgres(pwfile)
        result = subprocess.run(
            [
                "initdb", "-D", str(data_dir), "-U", SUPERUSER, f"--pwfile={pwfile}",
                "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                "--locale=C", "--no-instructions",
            ],
            capture_output=True,
            user=user,
            check=False,
        )  # fmt: skip
    with log_path.open("ab") as log:
        log.write(result.stdout + result.stderr)
    if result.returncode != 0:
        raise PostgresError(f"initdb failed ({result.returncode}): {result.stderr.decode()[-800:]}")


def _start_pgserver(data_dir: Path, log_path: Path) -> Postgres:
    try:
        import pgserver  # type: ignore[import-untyped]
    except ImportError as exc:
        raise PostgresError(
            "no Postgres binaries on PATH and the pgserver wheel is not installed: "
            "`apt-get install postgresql` or `pip install pgserver`, or set DATABASE_URL"
        ) from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
    dsn = server.get_uri()
    _wait_ready(dsn, None, log_path)
    return Postgres(dsn=dsn, kind="pgserver", log_path=log_path, _stopper=server)


def _wait_ready(dsn: str, process: subprocess.Popen[bytes] | None, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise PostgresError(
                f"postgres exited with {process.returncode}; last log lines:\n{_tail(log_path)}"
            )
        try:
            with psycopg.connect(dsn, connect_timeout=2):
                return
        except psycopg.OperationalError as exc:
            last = exc
            time.sleep(0.1)
    raise PostgresError(f"postgres did not accept connections in {READY_TIMEOUT_S:.0f}s: {last}")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
