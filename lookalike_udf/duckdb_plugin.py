"""DuckDB SQL functions for lookalike scoring, and the dbt-duckdb plugin that registers them.

Functions (vectorised Arrow UDFs; DuckDB calls them with batches of up to 2,048 rows, from
several threads):

- ``lookalike_load_model(model_json VARCHAR) -> VARCHAR``: parses and validates a stored model
  (a ``lookalike_run_models.model_json``), keeps it in this process and returns its key: the
  SHA-256 of the text, so it equals the row's ``model_sha256`` when the model is intact.
- ``lookalike_score(model VARCHAR, features STRUCT) -> DOUBLE``: the score (0..1) of each row,
  exactly as :meth:`lookalike_udf.scoring.LookalikeModel.predict` scores it. ``model`` is a key
  from ``lookalike_load_model`` (loaded earlier in the same query, e.g. in a materialized CTE) or
  the model's JSON itself. ``features`` is a struct whose fields are the feature columns by name;
  a table's alias is such a struct in DuckDB (``lookalike_score(m.model_key, f)`` with ``f`` a
  row of ``lookalike_inference_features``). Fields the model does not read are ignored. A null
  ``model`` gives a null score. A missing field, or a field of the wrong kind (text for a number,
  a number for a text feature), raises an error naming the feature and the fix.
- ``lookalike_model_features(model VARCHAR) -> VARCHAR[]``: the feature names the model reads,
  in its order (what the ``features`` struct must hold).
- ``lookalike_library_version() -> VARCHAR``: this library's version and scikit-learn's, e.g.
  ``lookalike_udf 0.1.0; scikit-learn 1.9.1``. The keep-unchanged-tables short cut of the DuckDB
  materialization (decision 0019) folds it into every table's key, so upgrading either rebuilds.
- ``lookalike_serving_build_id(serving_path VARCHAR, db_path VARCHAR) -> VARCHAR``: the build id
  stored in the serving file (decision 0014) that ``serving_path`` names, relative paths resolved
  against the folder of the database file ``db_path``; NULL when there is no complete, readable
  serving file there. The materialization keeps ``lookalike_serving`` only when this is the
  build id it published, so a deleted or replaced serving file is published again.

Why a key: DuckDB copies every argument into every batch, so the JSON form copies the model text
2,048 times per batch. A 2.3 MB bagging model (the demo's) overflows Arrow's 2 GB string buffer
and fails; a 500 KB one costs about 0.4 ms per row. The key is 64 characters.

Models are parsed from JSON only (never unpickled) and cached per SHA-256 of their text. The
functions exist only in the process that registered them: in dbt through this module's
:class:`Plugin` (``profiles.yml``: ``plugins: [{module: lookalike_udf.duckdb_plugin}]``), in
Python through :func:`register`.

Example
-------
>>> import duckdb
>>> con = register(duckdb.connect())
>>> con.sql("select lookalike_score(null, {'x': 1.0})").fetchall()
[(None,)]
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import library_version as library_version  # the SQL function lookalike_library_version()
from .errors import LookalikeError
from .features import BOOLEAN, CATEGORICAL, NUMERIC, feature_kind
from .scoring import LookalikeModel

__all__ = ["CACHE", "FUNCTIONS", "ModelCache", "check_features", "register", "score_arrow"]

#: The SQL functions :func:`register` creates.
FUNCTIONS = (
    "lookalike_load_model",
    "lookalike_score",
    "lookalike_model_features",
    "lookalike_library_version",
    "lookalike_serving_build_id",
)

#: What each encoder kind accepts (Arrow kinds of the struct field), and the SQL type to cast to.
_ACCEPTS = {NUMERIC: {NUMERIC, BOOLEAN}, BOOLEAN: {BOOLEAN, NUMERIC}, CATEGORICAL: {CATEGORICAL}}
_DESCRIBE = {NUMERIC: "numeric", BOOLEAN: "boolean", CATEGORICAL: "text (categorical)"}
_CAST_TO = {NUMERIC: "DOUBLE", BOOLEAN: "BOOLEAN", CATEGORICAL: "VARCHAR"}


class ModelCache:
    """Parsed models by the SHA-256 (hex) of their JSON; thread-safe, least recently used dropped first.

    :meth:`get` takes a model's JSON, or the key :meth:`load` returned for it (its SHA-256, which
    equals the ``model_sha256`` column): a key never looks like JSON, so the two cannot be confused.
    """

    def __init__(self, max_models: int = 256):
        self.max_models = max_models
        self._models: OrderedDict[str, LookalikeModel] = OrderedDict()
        self._lock = threading.Lock()
        self._parsing: dict[str, threading.Lock] = {}
        self.parses = 0  # how many times a model was parsed (tests read it)

    def _lookup(self, key: str) -> LookalikeModel | None:
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
            return model

    def _load(self, model_json: str) -> tuple[str, LookalikeModel]:
        key = hashlib.sha256(model_json.encode("utf-8")).hexdigest()
        model = self._lookup(key)
        if model is None:
            # One parse per model even when several threads ask at once: a per-key lock, so other
            # models are not held up while a big one parses.
            with self._lock:
                key_lock = self._parsing.setdefault(key, threading.Lock())
            with key_lock:
                model = self._lookup(key)
                if model is None:
                    model = LookalikeModel.from_json(model_json)
                    with self._lock:
                        self.parses += 1
                        self._models[key] = model
                        while len(self._models) > self.max_models:
                            self._models.popitem(last=False)
            with self._lock:
                self._parsing.pop(key, None)
        return key, model

    def load(self, model_json: str) -> str:
        """Parse (once) and keep ``model_json``; returns its key, the SHA-256 of the text."""
        return self._load(model_json)[0]

    def get(self, model: str) -> LookalikeModel:
        """The model for a JSON text or for a key from :meth:`load`."""
        if _KEY.fullmatch(model):
            found = self._lookup(model)
            if found is None:
                raise LookalikeError(
                    f"lookalike_score: no model with key {model} is loaded in this process. Load it in the same "
                    "query, before scoring: with m as materialized (select run_id, lookalike_load_model(model_json) "
                    "as model_key from lookalike_run_models) select ..., lookalike_score(m.model_key, f) ..."
                )
            return found
        return self._load(model)[1]


_KEY = re.compile(r"[0-9a-f]{64}")

#: The process-wide cache every registered connection shares.
CACHE = ModelCache()


def _array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def _feature_batch(features: pa.Array) -> pa.RecordBatch:
    """The struct's fields as a record batch (a null struct makes every field null)."""
    if not pa.types.is_struct(features.type):
        raise LookalikeError(
            f"lookalike_score: the features argument must be a struct of feature columns, not {features.type}. "
            "Pass a table alias (lookalike_score(m.model_key, f) with f a row of lookalike_inference_features) "
            "or struct_pack(...) of the columns listed by lookalike_model_features(model_json)."
        )
    names = [features.type.field(i).name for i in range(features.type.num_fields)]
    return pa.RecordBatch.from_arrays(features.flatten(), names=names)


def check_features(model: LookalikeModel, schema: pa.Schema) -> None:
    """Raise a :class:`LookalikeError` naming every missing or mistyped feature and the fix."""
    present = set(schema.names)
    missing = [s.name for s in model.encoder.specs_ if s.name not in present]
    if missing:
        listed = ("field " if len(missing) == 1 else "fields ") + ", ".join(repr(n) for n in missing)
        raise LookalikeError(
            f"lookalike_score: the features argument has no {listed}, which the model needs "
            f"(it reads {len(model.encoder.specs_)} features). Pass every feature by name: a row of "
            "lookalike_inference_features (lookalike_score(m.model_key, f) with f the table's alias) or "
            "struct_pack(...) of the columns listed by lookalike_model_features(model_json)."
        )
    for spec in model.encoder.specs_:
        arrow_type = schema.field(spec.name).type
        if pa.types.is_null(arrow_type):
            continue  # an untyped NULL: missing for every kind
        if feature_kind(arrow_type) not in _ACCEPTS[spec.kind]:
            raise LookalikeError(
                f"lookalike_score: feature {spec.name!r} is {_DESCRIBE[spec.kind]} in the model, but the features "
                f"argument holds it as {arrow_type}. Cast it to {_CAST_TO[spec.kind]} in the struct "
                f"(or pass the column of lookalike_inference_features it was trained on)."
            )


def _texts(values: pa.Array | pa.ChunkedArray, function: str) -> pa.Array:
    texts = _array(values)
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type) or pa.types.is_null(texts.type)):
        raise LookalikeError(
            f"{function}: the model must be text (a lookalike_run_models.model_json or a key "
            f"from lookalike_load_model), not {texts.type}."
        )
    return texts


def score_arrow(
    model: pa.Array | pa.ChunkedArray, features: pa.Array | pa.ChunkedArray, cache: ModelCache = CACHE
) -> pa.Array:
    """``lookalike_score`` on one batch: one score per row, null where ``model`` is null.

    Rows may carry different models (e.g. every run's model joined to the population): each
    distinct model scores its own rows.
    """
    texts = _texts(model, "lookalike_score")
    batch = _feature_batch(_array(features))
    n = len(texts)
    out = np.full(n, np.nan)
    valid = np.zeros(n, dtype=bool)
    encoded = pc.dictionary_encode(texts)
    indices, distinct = encoded.indices, encoded.dictionary.to_pylist()
    for k, text in enumerate(distinct):
        model = cache.get(text)
        check_features(model, batch.schema)
        if len(distinct) == 1 and indices.null_count == 0:
            out[:] = model.predict(batch)
            valid[:] = True
            break
        rows = np.flatnonzero(pc.fill_null(pc.equal(indices, k), False).to_numpy(zero_copy_only=False))
        out[rows] = model.predict(batch.take(pa.array(rows)))
        valid[rows] = True
    return pa.array(out, type=pa.float64(), mask=~valid)


def _load_models(model_json: pa.Array | pa.ChunkedArray, cache: ModelCache) -> pa.Array:
    texts = _texts(model_json, "lookalike_load_model").to_pylist()
    return pa.array([None if t is None else cache.load(t) for t in texts], type=pa.string())


def _model_features(model: pa.Array | pa.ChunkedArray, cache: ModelCache) -> pa.Array:
    texts = _texts(model, "lookalike_model_features").to_pylist()
    return pa.array([None if t is None else cache.get(t).feature_names for t in texts], type=pa.list_(pa.string()))


def register(con, cache: ModelCache = CACHE):
    """Create the lookalike SQL functions on a DuckDB connection (again if they exist); returns it.

    Every cursor of ``con`` sees them; another process or connection to the same file does not.
    """
    import duckdb

    def lookalike_load_model(model_json):
        return _load_models(model_json, cache)

    def lookalike_score(model, features):
        return score_arrow(model, features, cache)

    def lookalike_model_features(model):
        return _model_features(model, cache)

    def replace(name, fn, params, returns, **options):
        try:
            con.remove_function(name)
        except (duckdb.InvalidInputException, duckdb.CatalogException):
            pass
        con.create_function(name, fn, params, returns, **options)

    # side_effects: it fills the cache, so DuckDB must not fold or skip the call.
    replace("lookalike_load_model", lookalike_load_model, ["VARCHAR"], "VARCHAR", type="arrow", side_effects=True)
    # parameters=None: any argument types, so the struct may have any fields.
    replace("lookalike_score", lookalike_score, None, "DOUBLE", type="arrow", side_effects=False)
    replace(
        "lookalike_model_features", lookalike_model_features, ["VARCHAR"], "VARCHAR[]", type="arrow", side_effects=False
    )
    replace("lookalike_library_version", library_version, [], "VARCHAR")
    # side_effects: it reads a file, which may change between two calls.
    replace(
        "lookalike_serving_build_id",
        serving_build_id,
        ["VARCHAR", "VARCHAR"],
        "VARCHAR",
        null_handling="special",
        side_effects=True,
    )
    return con


def serving_build_id(serving_path, db_path):
    """SQL ``lookalike_serving_build_id(serving_path, db_path)``: the build id of the serving file
    (see :func:`lookalike_udf.serving.published_build_id`), or NULL."""
    from .serving import published_build_id

    return published_build_id(serving_path, db_path)


try:  # dbt-duckdb is optional for register(); the plugin class needs it
    from dbt.adapters.duckdb.plugins import BasePlugin
except ImportError:  # pragma: no cover - only without dbt-duckdb
    BasePlugin = None

if BasePlugin is not None:

    class Plugin(BasePlugin):
        """dbt-duckdb plugin: ``plugins: [{module: lookalike_udf.duckdb_plugin}]`` in ``profiles.yml``
        registers the lookalike SQL functions on every database dbt opens, so any model, test,
        ``dbt show`` or ``run-operation`` of the project can call them."""

        def configure_connection(self, conn):
            register(conn)
