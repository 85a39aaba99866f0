"""Audience files: each run's rows of ``lookalike_audiences`` written to its ``audience_export_path``.

One run's export can fail (a folder that cannot be created, a run id that would change the folder,
a disk error) without touching the others or any table: the failure is that run's row of
``lookalike_audience_exports`` (``export_status = 'failed'`` and a message naming the run, the path
and the fix) and a line of the console summary.

Rules (docs/serving.md, "Exporting an audience"):

- ``{run_id}`` in the path is replaced by the run id. A run id is put into a path only when it is
  one plain path component: no ``/`` or ``\\``, not ``.`` or ``..``, no NUL and not starting with
  ``~``. Otherwise that run's export fails (a run id never changes the folder).
- A relative path is relative to the dbt process's working folder, as DuckDB's ``COPY`` took it.
- A missing folder is created.
- ``.csv`` (header row) or ``.parquet`` by the extension; anything else fails that run's export.
- The file is written beside its final name and renamed over it, so a reader never sees half a
  file and a failed write leaves the previous file in place.

>>> resolve_export_path("out/{run_id}.parquet", "spring")
'out/spring.parquet'
>>> resolve_export_path("out/{run_id}.csv", "../escaped")
Traceback (most recent call last):
...
lookalike_udf.errors.LookalikeError: run '../escaped': its run_id cannot be put into audience_export_path 'out/{run_id}.csv': it contains '/', so it would change the folder the file is written to. Give the run an id without '/', '\\', '..' or a leading '~', or set an audience_export_path without {run_id} for it.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from .engines import engine_for
from .errors import LookalikeError
from .outputs import EXPORT_SCHEMA
from .settings import as_bool

EXPORTED = "exported"
FAILED = "failed"


def _run_id_problem(run_id: str) -> str | None:
    for bad in ("/", "\\", "\x00"):
        if bad in run_id:
            return f"it contains {bad!r}"
    if run_id in (".", ".."):
        return f"it is {run_id!r}"
    if run_id.startswith("~"):
        return "it starts with '~'"
    if run_id == "":
        return "it is empty"
    return None


def resolve_export_path(template: str, run_id: str) -> str:
    """The file ``template`` names for ``run_id`` ('{run_id}' replaced), or a LookalikeError when
    the run id would change the folder or the extension is neither .csv nor .parquet."""
    path = template
    if "{run_id}" in template:
        problem = _run_id_problem(str(run_id))
        if problem:
            raise LookalikeError(
                f"run {run_id!r}: its run_id cannot be put into audience_export_path {template!r}: {problem}, "
                "so it would change the folder the file is written to. Give the run an id without '/', '\\', '..' "
                "or a leading '~', or set an audience_export_path without {run_id} for it."
            )
        path = template.replace("{run_id}", str(run_id))
    if "\x00" in path:
        raise LookalikeError(
            f"run {run_id!r}: audience_export_path {template!r} contains a NUL character. "
            "Fix the runs input column or var lookalike_audience_export_path."
        )
    if file_format(path) is None:
        raise LookalikeError(
            f"run {run_id!r}: audience_export_path {template!r} must end in .parquet or .csv (null = no export). "
            "Fix the runs input column or var lookalike_audience_export_path."
        )
    return path


def file_format(path: str) -> str | None:
    lower = path.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith(".parquet"):
        return "parquet"
    return None


def write_audience_file(rows: pa.Table, path: str, run_id: str) -> None:
    """Write ``rows`` to ``path`` (CSV with a header, or Parquet), creating its folder; the file is
    written under a temporary name in the same folder and renamed over ``path``."""
    folder = os.path.dirname(path) or "."
    if os.path.isdir(path):
        raise LookalikeError(
            f"run {run_id!r}: audience_export_path {path!r} is a folder. Name a .parquet or .csv file in it instead."
        )
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise LookalikeError(
            f"run {run_id!r}: cannot create the folder {folder!r} of audience_export_path {path!r} "
            f"({exc.strerror or exc}). Point audience_export_path at a folder you can write to."
        ) from exc
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        if file_format(path) == "csv":
            pa_csv.write_csv(rows, temporary)
        else:
            pq.write_table(rows, temporary)
        os.replace(temporary, path)
    except OSError as exc:
        raise LookalikeError(
            f"run {run_id!r}: cannot write the audience to {path!r} ({exc.strerror or exc}). "
            "Point audience_export_path at a folder you can write to."
        ) from exc
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns as their values (CSV cannot write dictionaries)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(
                i, pa.field(field.name, field.type.value_type), table.column(i).cast(field.type.value_type)
            )
    return table


def export_audiences(audiences, runs, now: dt.datetime | None = None, include_holdout=False):
    """Write every run's audience to its export path; one row per run that has a path (see
    EXPORT_SCHEMA). ``audiences``: lookalike_audiences; ``runs``: int_lookalike__runs (run_id,
    audience_export_path). The holdout group (``is_holdout``) is left out unless
    ``include_holdout`` (var lookalike_audience_export_holdout; dbt renders it as text). Never
    raises for one run's failure."""
    include_holdout = as_bool(include_holdout, "lookalike_audience_export_holdout")
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    engine = engine_for(audiences, runs)
    run_rows = engine.to_arrow(runs).select(["run_id", "audience_export_path"]).to_pylist()
    wanted = {
        r["run_id"]: r["audience_export_path"]
        for r in run_rows
        if r["run_id"] is not None and r["audience_export_path"] is not None
    }
    out = []
    if wanted:
        table = _plain(engine.to_arrow(engine.where_in(audiences, "run_id", list(wanted))))
        for run_id, template in sorted(wanted.items()):
            row = {
                "run_id": run_id,
                "audience_export_path": template,
                "file_path": None,
                "file_format": None,
                "n_rows": None,
                "export_status": FAILED,
                "export_message": None,
                "exported_at": None,
            }
            try:
                path = resolve_export_path(template, run_id)
                row.update(file_path=path, file_format=file_format(path))
                rows = table.filter(pc.equal(table.column("run_id"), run_id))
                if not include_holdout and "is_holdout" in rows.column_names:
                    rows = rows.filter(pc.invert(pc.fill_null(rows.column("is_holdout"), False)))
                rows = rows.sort_by([("score_rank", "ascending")])
                write_audience_file(rows, path, run_id)
                row.update(n_rows=rows.num_rows, export_status=EXPORTED, exported_at=now)
            except LookalikeError as exc:
                row["export_message"] = str(exc)
            except Exception as exc:  # noqa: BLE001 - one run's failure stays in its row
                row["export_message"] = (
                    f"run {run_id!r}: exporting the audience to {template!r} failed: {type(exc).__name__}: {exc}"
                )
            out.append(row)
    return engine.output(pa.Table.from_pylist(out, schema=EXPORT_SCHEMA))
