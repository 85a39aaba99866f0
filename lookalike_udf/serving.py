"""Publish the public marts to a serving DuckDB file that BI tools read (decision 0014).

DuckDB lets one process hold a database file: a BI tool reading the build's file blocks `dbt build`,
and a build blocks every reader. The build therefore never writes the file readers open (it only
opens it read-only, in :func:`published_build_id`, to check that it is still the one it published,
decision 0019). At the end
of a build (after every public mart and its tests), :func:`publish` copies the marts into a new,
private file next to the serving file, closes it, and renames it over the serving file in one
``os.replace``. A reader opens either the previous complete file or the new one; a reader that keeps
its connection open keeps reading the file it opened (its inode) until it reconnects.

Only POSIX renames replace a file that another process has open; on Windows the rename fails while
a reader holds the serving file (the error says so), so readers there must reconnect per query.

The serving file is DuckDB's answer to DuckDB's single-writer lock. On Spark (dbt-spark) the marts
are tables of the metastore that every client already reads while builds run, so nothing is copied:
:func:`publish` with a SparkSession only returns the manifest (:func:`spark_manifest`).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pyarrow as pa

from . import frames

MANIFEST_TABLE = "lookalike_serving_build"


def resolve_serving_path(session, serving_path: str) -> Path:
    """The serving file: ``serving_path`` as given when absolute, else relative to the folder of the
    build's own DuckDB file (so it does not depend on the folder dbt was started from)."""
    path = Path(os.path.expanduser(str(serving_path)))
    if path.is_absolute():
        return path
    [(db_path,)] = session.execute(
        "select path from duckdb_databases() where database_name = current_database()").fetchall()
    return _resolve(serving_path, db_path)


def _resolve(serving_path: str, db_path: str | None) -> Path:
    path = Path(os.path.expanduser(str(serving_path)))
    if path.is_absolute():
        return path
    if not db_path or db_path == ":memory:":
        raise ValueError("lookalike serving: the build's DuckDB database is in memory, so a relative "
                         f"lookalike_serving_path ('{serving_path}') has no folder to live in. Set an absolute "
                         "lookalike_serving_path, or lookalike_serving: false.")
    return Path(db_path).resolve().parent / path


def published_build_id(serving_path: str | None, db_path: str | None) -> str | None:
    """The build id of the serving file that ``serving_path`` names (resolved as :func:`publish`
    resolves it, for the build database at ``db_path``), or None when there is no complete serving
    file there: missing, unreadable, locked by a writer, or without exactly one build id.

    The build keeps its serving table only when this is the build id it published (SQL function
    ``lookalike_serving_build_id``, decision 0019): a deleted or replaced file is published again.
    The file is opened read-only, as BI readers open it, so a reader holding it does not stop this."""
    import duckdb

    if serving_path is None:
        return None
    try:
        path = _resolve(serving_path, db_path)
    except ValueError:
        return None
    if not path.is_file():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            found = con.execute(f"select distinct build_id from main.{MANIFEST_TABLE}").fetchall()
    except duckdb.Error:
        return None
    return found[0][0] if len(found) == 1 else None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def publish(session, relations: dict, serving_path: str, build_id: str | None = None,
            published_at: dt.datetime | None = None) -> pa.Table:
    """Copy every relation (name -> DuckDB relation of ``session``) into a new DuckDB file and swap it
    in atomically as the serving file. Returns the manifest: one row per table (also stored in the
    serving file as ``lookalike_serving_build``).

    With a SparkSession nothing is copied and ``serving_path`` is ignored: see :func:`spark_manifest`."""
    if frames.is_spark_session(session):
        return spark_manifest(session, relations, build_id, published_at)
    target = resolve_serving_path(session, serving_path)
    if target.suffix in ("", ".wal") or target.is_dir():
        raise ValueError(f"lookalike serving: lookalike_serving_path '{serving_path}' must name a file, "
                         "e.g. serving/lookalike.duckdb.")
    target.parent.mkdir(parents=True, exist_ok=True)
    build_id = build_id or uuid.uuid4().hex
    published_at = published_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    # A hidden name in the same folder (same file system, so the rename is atomic); never a name a
    # reader would open.
    tmp = target.parent / f".{target.name}.{build_id}.tmp"
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
        manifest = pa.table({
            "table_name": pa.array([r["table_name"] for r in rows], pa.string()),
            "n_rows": pa.array([r["n_rows"] for r in rows], pa.int64()),
            "build_id": pa.array([build_id] * len(rows), pa.string()),
            "published_at": pa.array([published_at] * len(rows), pa.timestamp("us")),
            "serving_file": pa.array([str(target)] * len(rows), pa.string()),
        })
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
                "serving file open blocks the swap: have BI tools reconnect per query.") from exc
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


def spark_manifest(session, relations: dict, build_id: str | None = None,
                   published_at: dt.datetime | None = None):
    """The manifest of a Spark build, as a Spark DataFrame: one row per mart (name -> Spark
    DataFrame), with the DuckDB manifest's columns (``serving_file`` null: there is no serving
    file) plus ``copied`` = false, because the marts stay where they are: in the metastore,
    readable by every Spark / Hive / Trino client while the next build runs (decision 0014)."""
    build_id = build_id or uuid.uuid4().hex
    published_at = published_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    names = list(relations)
    n_rows = [relations[name].count() for name in names]
    manifest = pa.table({
        "table_name": pa.array(names, pa.string()),
        "n_rows": pa.array(n_rows, pa.int64()),
        "build_id": pa.array([build_id] * len(names), pa.string()),
        "published_at": pa.array([published_at] * len(names), pa.timestamp("us")),
        "serving_file": pa.nulls(len(names), pa.string()),
        "copied": pa.array([False] * len(names), pa.bool_()),
    })
    return frames.to_spark(session, manifest)


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
