"""`procopt backup` and `procopt restore`: a consistent copy of the database while it serves, and back.

SQLite: SQLite's online backup API (`sqlite3.Connection.backup`), all pages in one step, so the copy is
one read transaction's snapshot of the database: in WAL mode writers go on meanwhile, and every
transaction committed before the backup began is in it. (Copying the file itself while the server runs
can miss the `-wal` file's transactions or catch a checkpoint half-way.) The backup is one plain
SQLite file (rollback journal, not WAL), checked with `PRAGMA integrity_check`.

PostgreSQL: `pg_dump --format=custom` (one snapshot too) and `pg_restore`, run with the connection
parameters of DATABASE_URL (the password goes through PGPASSWORD, never on the command line).

A restore refuses
- a database that has data (any row in an application table, e.g. an account in `users`) unless
  `force`: it would replace that data;
- a backup whose Alembic migration head is not this code's head: the schema would not be the one the code
  expects. The head is read from the backup before the target is touched (SQLite: its `alembic_version`
  table; PostgreSQL: `pg_restore --data-only --table=alembic_version --file=-`), and read again from the
  restored database.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from app.core.migrate import alembic_config

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
PG_TOOL_TIMEOUT_SECONDS = 6 * 3600


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


class ToolMissing(BackupError):
    """pg_dump or pg_restore is not installed."""


class BadBackup(BackupError):
    """The file is not a backup this database can be restored from."""


class HeadMismatch(BackupError):
    """The backup's migration head is not the code's."""


class NotEmpty(BackupError):
    """The restore target has data and `force` was not given."""


@dataclass(frozen=True)
class Result:
    database: str  # DATABASE_URL without its password
    file: Path
    heads: tuple[str, ...]  # the Alembic migration head(s) of the backup
    size: int  # bytes of the backup file


def code_heads() -> tuple[str, ...]:
    """The migration head(s) of this code (migrations/versions)."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))


def _describe(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


def _heads_text(heads: Sequence[str]) -> str:
    return ", ".join(heads) if heads else "none (not a migrated procopt database)"


def _check_heads(heads: tuple[str, ...], file: Path) -> None:
    expected = code_heads()
    if heads != expected:
        raise HeadMismatch(
            f"{file} is at migration {_heads_text(heads)}, this procopt at {_heads_text(expected)}: restore it "
            f"with the procopt version that made it (a newer procopt then upgrades it with `procopt migrate`)")


def backup(database_url: str, file: Path) -> Result:
    """Write a consistent backup of the database to `file`, which must not exist yet. The file appears
    complete or not at all (written beside it, then renamed)."""
    url = sa.make_url(database_url)
    file = Path(file)
    if file.exists():
        raise BackupError(f"{file} already exists; remove it or choose another file name")
    if not file.parent.is_dir():
        raise BackupError(f"the directory {file.parent} does not exist")
    with _temporary_beside(file) as tmp:
        if url.get_backend_name() == "sqlite":
            heads = _sqlite_backup(_sqlite_path(url), tmp)
        elif url.get_backend_name() == "postgresql":
            heads = _pg_backup(url, tmp)
        else:
            raise BackupError(f"backups of {url.get_backend_name()} databases are not supported")
        _fsync(tmp)
        os.replace(tmp, file)
    _fsync(file.parent)
    return Result(_describe(url), file, heads, file.stat().st_size)


def restore(database_url: str, file: Path, *, force: bool = False) -> Result:
    """Replace the database's contents with the backup in `file` (see the module's docstring)."""
    url = sa.make_url(database_url)
    file = Path(file)
    if not file.is_file():
        raise BadBackup(f"{file} does not exist or is not a file")
    with file.open("rb") as f:
        magic = f.read(len(SQLITE_MAGIC))
    backend = url.get_backend_name()
    if backend == "sqlite":
        if magic.startswith(PG_DUMP_MAGIC):
            raise BadBackup(f"{file} is a PostgreSQL backup (pg_dump); DATABASE_URL is an SQLite database")
        if magic != SQLITE_MAGIC:
            raise BadBackup(f"{file} is not an SQLite database, so not a backup of procopt on SQLite")
        heads = _sqlite_restore(file, _sqlite_path(url), force=force, describe=_describe(url))
    elif backend == "postgresql":
        if magic == SQLITE_MAGIC:
            raise BadBackup(f"{file} is an SQLite backup; DATABASE_URL is a PostgreSQL database")
        if not magic.startswith(PG_DUMP_MAGIC):
            raise BadBackup(f"{file} is not a pg_dump custom-format archive, so not a backup of procopt on "
                            "PostgreSQL")
        heads = _pg_restore(file, url, force=force)
    else:
        raise BackupError(f"restores into {backend} databases are not supported")
    return Result(_describe(url), file, heads, file.stat().st_size)


# --- SQLite -------------------------------------------------------------------------------------------

def _sqlite_path(url: sa.URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"{_describe(url)} is not an SQLite database file")
    return Path(url.database)


@contextlib.contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def _sqlite_heads(conn: sqlite3.Connection) -> tuple[str, ...]:
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone():
        return ()
    return tuple(sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version")))


def _sqlite_integrity(conn: sqlite3.Connection, what: str) -> None:
    problems = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise BadBackup(f"{what} fails SQLite's integrity check: {'; '.join(problems[:5])}")


def _sqlite_tables_with_rows(conn: sqlite3.Connection) -> list[str]:
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != 'alembic_version' ORDER BY name = 'users' DESC, name")]
    return [t for t in tables if conn.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()]  # noqa: S608


def _sqlite_backup(source: Path, target: Path) -> tuple[str, ...]:
    if not source.is_file():
        raise BackupError(f"there is no SQLite database at {source}")
    with _sqlite(source) as src, _sqlite(target) as dst:
        src.backup(dst)  # every page in one step: one read transaction, so one consistent snapshot
        dst.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file, not WAL
        _sqlite_integrity(dst, f"the backup of {source}")
        return _sqlite_heads(dst)


def _sqlite_restore(file: Path, target: Path, *, force: bool, describe: str) -> tuple[str, ...]:
    with _sqlite(file) as src:
        try:
            _sqlite_integrity(src, str(file))
            heads = _sqlite_heads(src)
        except sqlite3.DatabaseError as exc:
            raise BadBackup(f"{file} cannot be read as an SQLite database: {exc}") from None
        _check_heads(heads, file)
        if target.exists() and not force:
            try:
                with _sqlite(target) as existing:
                    full = _sqlite_tables_with_rows(existing)
            except sqlite3.DatabaseError as exc:
                raise BackupError(f"{describe} cannot be read as an SQLite database ({exc}); "
                                  "pass --force to overwrite it") from None
            if full:
                raise NotEmpty(_not_empty_message(describe, full))
        target.parent.mkdir(parents=True, exist_ok=True)
        with _sqlite(target) as dst:
            src.backup(dst)  # the backup API the other way: all pages, under the target's write lock
            _sqlite_integrity(dst, f"the restored database {target}")
            restored = _sqlite_heads(dst)
    if restored != heads:
        raise BackupError(f"the restored database {target} is at migration {_heads_text(restored)}, "
                          f"not {_heads_text(heads)}")
    return heads


def _not_empty_message(describe: str, tables: list[str]) -> str:
    shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
    return (f"{describe} is not empty (rows in {shown}); a restore replaces all of its data: "
            "pass --force to overwrite it")


# --- PostgreSQL ---------------------------------------------------------------------------------------

def _conninfo_value(value: object) -> str:
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def libpq_connection(url: sa.URL) -> tuple[str, dict[str, str]]:
    """The libpq conninfo string (`host=... dbname=...`) for pg_dump and pg_restore's `--dbname`, and
    the environment to run them in: the password in PGPASSWORD, so that it is not on a command line."""
    params: dict[str, object] = {}
    if url.host:
        params["host"] = url.host
    if url.port:
        params["port"] = url.port
    if url.username:
        params["user"] = url.username
    if url.database:
        params["dbname"] = url.database
    for key, value in url.query.items():  # libpq parameters, as psycopg passes them (sslmode, host, ...)
        params[key] = value if isinstance(value, str) else ",".join(value)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return " ".join(f"{k}={_conninfo_value(v)}" for k, v in params.items()), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(f"{name} is not installed (or not on PATH); it comes with PostgreSQL's client "
                          "programs, e.g. `apt-get install postgresql-client` on Debian and Ubuntu. "
                          "Use the major version of the server or a newer one")
    return path


def _run(args: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True,  # noqa: S603
                              timeout=PG_TOOL_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what} did not finish in {PG_TOOL_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit code {done.returncode}): {done.stderr.strip()}")
    return done


def _pg_backup(url: sa.URL, target: Path) -> tuple[str, ...]:
    pg_dump = _tool("pg_dump")
    conninfo, env = libpq_connection(url)
    _run([pg_dump, "--format=custom", f"--file={target}", f"--dbname={conninfo}"], env,
         f"pg_dump of {_describe(url)}")
    return _pg_backup_heads(target)  # read back from the archive: it is complete and readable


_COPY = re.compile(r"^COPY \S*alembic_version \(version_num\) FROM stdin;$")


def _pg_backup_heads(file: Path) -> tuple[str, ...]:
    """The rows of `alembic_version` in a pg_dump archive, read without restoring it anywhere."""
    pg_restore = _tool("pg_restore")
    try:
        done = _run([pg_restore, "--data-only", "--table=alembic_version", "--file=-", str(file)],
                    dict(os.environ), f"reading {file} with pg_restore")
    except ToolMissing:
        raise
    except BackupError as exc:
        raise BadBackup(str(exc)) from None
    heads: list[str] = []
    lines = iter(done.stdout.splitlines())
    for line in lines:
        if _COPY.match(line):
            for row in lines:
                if row == "\\.":
                    break
                heads.append(row)
            break
    return tuple(sorted(heads))


def _pg_tables_with_rows(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        tables = [t for t in sa.inspect(conn).get_table_names() if t != "alembic_version"]
        tables.sort(key=lambda t: (t != "users", t))
        prep = engine.dialect.identifier_preparer
        return [t for t in tables
                if conn.execute(sa.text(f"SELECT 1 FROM {prep.quote(t)} LIMIT 1")).first()]  # noqa: S608


def _pg_heads(engine: sa.Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return ()
        return tuple(sorted(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()))


def _pg_restore(file: Path, url: sa.URL, *, force: bool) -> tuple[str, ...]:
    pg_restore = _tool("pg_restore")
    heads = _pg_backup_heads(file)
    _check_heads(heads, file)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        try:
            full = [] if force else _pg_tables_with_rows(engine)
        except sa.exc.OperationalError as exc:
            raise BackupError(f"cannot connect to {_describe(url)} (create the database first, e.g. with "
                              f"createdb): {exc.orig}") from None
        if full:
            raise NotEmpty(_not_empty_message(_describe(url), full))
        conninfo, env = libpq_connection(url)
        # --clean --if-exists: what the archive holds replaces what the database has of it; one
        # transaction, so a failed restore leaves the database as it was. --no-owner: the objects belong
        # to the user of DATABASE_URL, whoever owned them where the backup was made.
        _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
              f"--dbname={conninfo}", str(file)], env, f"pg_restore into {_describe(url)}")
        restored = _pg_heads(engine)
    finally:
        engine.dispose()
    if restored != heads:
        raise BackupError(f"the restored database {_describe(url)} is at migration {_heads_text(restored)}, "
                          f"not {_heads_text(heads)}")
    return heads


# --- files --------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _temporary_beside(file: Path) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".partial", dir=file.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):  # directories cannot be opened everywhere
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
