"""Publish the public marts to a serving DuckDB file that BI tools read (decision 0014).

DuckDB lets one process hold a database file: a BI tool reading the build's file blocks `dbt build`,
and a build blocks every reader. The build therefore never writes the file readers open (it only
opens it read-only, in :func:`published_build_id`, to check that it is still the one it published,
decision 0019). At the end
of a build (after every public mart and its tests), :func:`publish` copies the marts into a new,
private file next to the serving file, closes it, and renames it over the serving file in one
``os.replace``. A reader opens either the previous complete file or the new one; a reader that keeps
its connection open keeps reading the file it opened (its inode) until it reconnects.

Before anything is copied, :func:`check_serving_path` refuses a serving path that is (through
symlinks, ``..`` or a relative form) the build's own database file or its WAL, which the rename
would replace, or a folder; and :func:`remove_orphan_temp_files` deletes the temp files of earlier
publications that were killed before their rename (only this package's temp names, only files no
process holds a lock on).

Only POSIX renames replace a file that another process has open; on Windows the rename fails while
a reader holds the serving file (the error says so), so readers there must reconnect per query.

The serving file is DuckDB's answer to DuckDB's single-writer lock. On Spark (dbt-spark) the marts
are tables of the metastore that every client already reads while builds run, so nothing is copied:
:func:`publish` with a SparkSession only returns the manifest (:func:`spark_manifest`). Which of the
two happens is the session's engine's to say (:attr:`lookalike_udf.engines.Engine.serving_file`);
the serving file is a DuckDB file whatever the engine, opened through
:mod:`lookalike_udf.engines.duckdb`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from pathlib import Path

import pyarrow as pa

from .engines import engine_for
from .engines.duckdb import Error as DuckDBError
from .engines.duckdb import connect_read_only
from .engines.duckdb import quote_identifier as _quote
from .errors import LookalikeError

MANIFEST_TABLE = "lookalike_serving_build"

#: The private file a publication writes before renaming it over the serving file: hidden, in the
#: same folder, ``.<serving file name>.<32 hex digits>.tmp`` (plus DuckDB's ``.wal`` beside it).
#: Only names of this form are ever removed as leftovers (:func:`remove_orphan_temp_files`).
TEMP_NAME = ".{name}.{token}.tmp"


class ServingPathError(LookalikeError, ValueError):
    """var lookalike_serving_path cannot be published to; the message names the path and the fix."""


_FIX = (
    "Set var lookalike_serving_path to a file of its own, e.g. serving/lookalike.duckdb (the default: next "
    "to the build's database), or turn publishing off with lookalike_serving: false."
)


def resolve_serving_path(session, serving_path: str) -> Path:
    """The serving file: ``serving_path`` as given when absolute, else relative to the folder of the
    build's own DuckDB file (so it does not depend on the folder dbt was started from)."""
    path = Path(os.path.expanduser(str(serving_path)))
    if path.is_absolute():
        return path
    [(db_path,)] = session.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()
    return _resolve(serving_path, db_path)


def _resolve(serving_path: str, db_path: str | None) -> Path:
    path = Path(os.path.expanduser(str(serving_path)))
    if path.is_absolute():
        return path
    if not db_path or db_path == ":memory:":
        raise ServingPathError(
            "lookalike serving: the build's DuckDB database is in memory, so a relative "
            f"lookalike_serving_path ('{serving_path}') has no folder to live in. Set an absolute "
            "lookalike_serving_path, or lookalike_serving: false."
        )
    return Path(db_path).resolve().parent / path


def published_build_id(serving_path: str | None, db_path: str | None) -> str | None:
    """The build id of the serving file that ``serving_path`` names (resolved as :func:`publish`
    resolves it, for the build database at ``db_path``), or None when there is no complete serving
    file there: missing, unreadable, locked by a writer, or without exactly one build id.

    The build keeps its serving table only when this is the build id it published (SQL function
    ``lookalike_serving_build_id``, decision 0019): a deleted or replaced file is published again.
    The file is opened read-only, as BI readers open it, so a reader holding it does not stop this."""
    if serving_path is None:
        return None
    try:
        path = _resolve(serving_path, db_path)
    except ValueError:
        return None
    if not path.is_file():
        return None
    try:
        with connect_read_only(str(path)) as con:
            found = con.execute(f"select distinct build_id from main.{MANIFEST_TABLE}").fetchall()
    except DuckDBError:
        return None
    return found[0][0] if len(found) == 1 else None


def _attached_files(session) -> list[Path]:
    """The files of every database the build's DuckDB session has attached (its own first)."""
    found = session.execute(
        "select path from duckdb_databases() where path is not null and path <> '' "
        "order by database_name <> current_database()"
    ).fetchall()
    return [Path(path) for (path,) in found if path != ":memory:"]


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: equal real paths (symlinks, ``..`` and relative forms
    resolved), or, when both exist, the same inode (hard links, case-insensitive file systems)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_serving_path(serving_path: str, target: Path, database_files) -> None:
    """Refuse a serving file that would destroy the build or cannot be a file, before anything is
    copied: ``target`` (the resolved var lookalike_serving_path) may not be, or be the write-ahead log
    of, a database file the build has open (``database_files``, the build's own first: the swap
    would replace its tables with the serving copy), and may not be a folder.

    Raises :class:`ServingPathError` naming var lookalike_serving_path, the path and the fix."""
    shown = f"var lookalike_serving_path ('{serving_path}')"
    for i, db in enumerate(database_files):
        db = Path(db)
        whose = "the build's own DuckDB database" if i == 0 else "a DuckDB database the build has attached,"
        for mine in (target, target.with_name(target.name + ".wal")):
            for theirs in (db, db.with_name(db.name + ".wal")):
                if _same_file(mine, theirs):
                    wal = " (or its write-ahead log)" if (mine, theirs) != (target, db) else ""
                    raise ServingPathError(
                        f"lookalike serving: {shown} resolves to {os.path.realpath(target)}, which is {whose} "
                        f"{db}{wal}: publishing there would replace the build's tables with the serving copy. "
                        f"Nothing was published and the build's database is unchanged. {_FIX}"
                    )
    if target.is_dir():
        raise ServingPathError(
            f"lookalike serving: {shown} names the folder {target}; it must name a file in a folder, e.g. "
            f"'{Path(serving_path) / 'lookalike.duckdb'}'. Nothing was published. {_FIX}"
        )
    if target.suffix in ("", ".wal"):
        raise ServingPathError(
            f"lookalike serving: {shown} must name a DuckDB file with an extension other than .wal "
            f"(it resolves to {target}), e.g. serving/lookalike.duckdb. Nothing was published. {_FIX}"
        )


_TEMP = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{32}\.tmp(?P<wal>\.wal)?")


def _locked_by_another_process(path: Path) -> bool:
    """True when another process holds a lock on ``path`` (DuckDB locks every file it has open with
    fcntl), or when that cannot be ruled out. Without fcntl (Windows) False: there, deleting a file
    another process has open fails, and the caller keeps it."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return True
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # releases the probe's lock
    return False


def remove_orphan_temp_files(target: Path, keep=()) -> list[Path]:
    """Remove the temp files that earlier publications to ``target`` left behind when they were
    killed before their rename (each a full copy of the marts). Returns the paths removed.

    Only files beside ``target`` named as :data:`TEMP_NAME` names this file's temp files (hidden,
    ``.<target name>.<32 hex>.tmp`` and its ``.wal``) are candidates, never the ones in ``keep``
    (this publication's, and every database file this process has attached: a probe of those would
    release DuckDB's own lock). A candidate is removed only when no process holds it: a publication
    that is still writing has it attached, and DuckDB holds an fcntl lock on every file it has open,
    which a killed process no longer does; a ``.wal`` goes with its ``.tmp`` (or when that is gone).
    Files that cannot be probed or removed are left alone."""
    folder = target.parent
    keep = {os.path.realpath(p) for p in keep}
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for name in sorted(names):  # '.x.tmp' sorts before '.x.tmp.wal'
        match = _TEMP.fullmatch(name)
        if not match or match["name"] != target.name:
            continue
        path = folder / name
        base = folder / name[: -len(".wal")] if match["wal"] else path
        if os.path.realpath(base) in keep or not path.is_file() or path.is_symlink():
            continue
        if base.exists() and _locked_by_another_process(base):
            continue
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def publish(
    session, relations: dict, serving_path: str, build_id: str | None = None, published_at: dt.datetime | None = None
) -> pa.Table:
    """Copy every relation (name -> DuckDB relation of ``session``) into a new DuckDB file and swap it
    in atomically as the serving file. Returns the manifest: one row per table (also stored in the
    serving file as ``lookalike_serving_build``).

    With a session whose engine has no single-writer file (a SparkSession) nothing is copied and
    ``serving_path`` is ignored: see :func:`spark_manifest`."""
    engine = engine_for(session)
    if not engine.serving_file:
        return _manifest_only(engine, relations, build_id, published_at)
    target = resolve_serving_path(session, serving_path)
    open_files = _attached_files(session)
    check_serving_path(serving_path, target, open_files)  # before anything is written
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ServingPathError(
            f"lookalike serving: var lookalike_serving_path ('{serving_path}') names {target}, whose folder "
            f"cannot be created ({type(exc).__name__}: {exc}). Nothing was published. {_FIX}"
        ) from exc
    build_id = build_id or uuid.uuid4().hex
    published_at = published_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    # A hidden name in the same folder (same file system, so the rename is atomic); never a name a
    # reader would open.
    tmp = target.parent / TEMP_NAME.format(name=target.name, token=uuid.uuid4().hex)
    remove_orphan_temp_files(target, keep=[tmp, *open_files])
    alias = f"lookalike_serving_{uuid.uuid4().hex[:12]}"
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    rows = []
    attached = False
    try:
        session.execute(f"attach '{str(tmp).replace(chr(39), chr(39) * 2)}' as {alias}")
        attached = True
        for name, relation in relations.items():
            relation.create(f"{alias}.main.{_quote(name)}")
            [(n_rows,)] = session.execute(f"select count(*) from {alias}.main.{_quote(name)}").fetchall()
            rows.append({"table_name": name, "n_rows": n_rows})
        manifest = pa.table(
            {
                "table_name": pa.array([r["table_name"] for r in rows], pa.string()),
                "n_rows": pa.array([r["n_rows"] for r in rows], pa.int64()),
                "build_id": pa.array([build_id] * len(rows), pa.string()),
                "published_at": pa.array([published_at] * len(rows), pa.timestamp("us")),
                "serving_file": pa.array([str(target)] * len(rows), pa.string()),
            }
        )
        session.register(f"{alias}_manifest", manifest)
        session.execute(f"create table {alias}.main.{MANIFEST_TABLE} as select * from {alias}_manifest")
        session.unregister(f"{alias}_manifest")
        session.execute(f"detach {alias}")  # checkpoints: the file is complete, no WAL left
        attached = False
        # A WAL next to the serving file would be replayed into the new file: readers open it
        # read-only and never write one, so any left there is stale.
        target.with_name(target.name + ".wal").unlink(missing_ok=True)
        try:
            os.replace(tmp, target)
        except PermissionError as exc:  # Windows: a reader holds the serving file
            raise PermissionError(
                f"lookalike serving: could not replace {target} ({exc}). On Windows a reader that keeps the "
                "serving file open blocks the swap: have BI tools reconnect per query."
            ) from exc
        _fsync_dir(target.parent)
        return manifest
    finally:
        if attached:
            try:
                session.execute(f"detach {alias}")
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)


def spark_manifest(session, relations: dict, build_id: str | None = None, published_at: dt.datetime | None = None):
    """The manifest of a Spark build, as a Spark DataFrame: one row per mart (name -> Spark
    DataFrame), with the DuckDB manifest's columns (``serving_file`` null: there is no serving
    file) plus ``copied`` = false, because the marts stay where they are: in the metastore,
    readable by every Spark / Hive / Trino client while the next build runs (decision 0014)."""
    return _manifest_only(engine_for(session), relations, build_id, published_at)


def _manifest_only(engine, relations: dict, build_id: str | None, published_at: dt.datetime | None):
    """:func:`spark_manifest` for any engine without a serving file (rows counted by the engine,
    returned as the engine returns a model's result)."""
    build_id = build_id or uuid.uuid4().hex
    published_at = published_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    names = list(relations)
    n_rows = [engine.count(relations[name]) for name in names]
    manifest = pa.table(
        {
            "table_name": pa.array(names, pa.string()),
            "n_rows": pa.array(n_rows, pa.int64()),
            "build_id": pa.array([build_id] * len(names), pa.string()),
            "published_at": pa.array([published_at] * len(names), pa.timestamp("us")),
            "serving_file": pa.nulls(len(names), pa.string()),
            "copied": pa.array([False] * len(names), pa.bool_()),
        }
    )
    return engine.output(manifest)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
