"""The results store: one SQLite file in the work directory.

One row per run: its identity (model and its options, label, dataset and its options, split, training plan,
seed, matrix cell, protocol), its provenance (code and library versions, checkpoint, devices, the run it
trained in or took its predictions from), timings and status; its metric values and its per-face errors.
The schema changes by migrations (`MIGRATIONS`, applied in order when a store is opened, the names applied
kept in the store's `migrations` table), so a store written by an earlier version upgrades in place. A run is inserted as 'running' and only becomes a
result when `finish` marks it 'finished'; a failure or interruption marks it so, and a process killed
outright leaves a 'running' row whose process is gone, which `mark_stale` turns into 'interrupted'.
Leaderboards read finished runs only.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fabrec_bench.errors import UserError

# The runs table as every store began (before the migrations below changed it).
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT UNIQUE NOT NULL,
    model TEXT NOT NULL,
    dataset TEXT NOT NULL,
    split TEXT NOT NULL,
    train_split TEXT,
    train_count INTEGER,
    seed INTEGER,
    config TEXT NOT NULL DEFAULT '{}',
    protocol TEXT NOT NULL DEFAULT '{}',
    model_info TEXT NOT NULL DEFAULT '{}',
    code_version TEXT,
    versions TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
    error TEXT,
    n_faces INTEGER,
    started_at REAL NOT NULL,
    finished_at REAL,
    train_seconds REAL,
    eval_seconds REAL,
    host TEXT,
    pid INTEGER,
    run_dir TEXT,
    kind TEXT NOT NULL DEFAULT 'run'
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS face_errors (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    face_id TEXT NOT NULL,
    nme REAL NOT NULL,
    PRIMARY KEY (run_id, face_id)
);
CREATE TABLE IF NOT EXISTS landmark_errors (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    landmark INTEGER NOT NULL,
    nme REAL,
    mean_x REAL,
    mean_y REAL,
    PRIMARY KEY (run_id, landmark)
);
CREATE INDEX IF NOT EXISTS runs_by_cell ON runs(dataset, split, model, status);
"""

# Keys that earlier versions kept inside a run's config JSON, and where each belongs now.
_IDENTITY_IN_CONFIG = {"matrix_cell": "cell_key", "dataset_options": "dataset_options",
                       "train_selection": "train_selection"}
_PROVENANCE_IN_CONFIG = ("checkpoint", "trained_in_run", "visible_gpus", "predictions_of_run", "predictions")


def split_legacy_config(config: dict, train_count: int | None) -> dict:
    """A run's config as earlier versions stored it (model options mixed with identity and provenance), as the
    columns that hold them now: model_options, cell_key, dataset_options, train_selection, provenance. Those
    versions recorded the selection only when it was `first`: a drawn training set was random."""
    config = dict(config)
    out = {column: config.pop(key) for key, column in _IDENTITY_IN_CONFIG.items() if key in config}
    provenance = {key: config.pop(key) for key in _PROVENANCE_IN_CONFIG if key in config}
    if "visible_gpus" in provenance:
        provenance["devices"] = {"visible_gpus": provenance.pop("visible_gpus")}
    selection = out.get("train_selection") or ("random" if train_count is not None else None)
    return {"model_options": config, "dataset_options": out.get("dataset_options", {}),
            "cell_key": out.get("cell_key"), "train_selection": selection, "provenance": provenance}


# -- migrations: an ordered list; the names applied are kept in the store's `migrations` table --------------

MIGRATIONS: list = []


def migration(fn):
    """Add `fn(connection)` to the store's migrations, applied in order, each once."""
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_results_tables(db: sqlite3.Connection) -> None:
    """Runs, their metrics, per-face and per-landmark errors (the layout every store began with)."""
    for statement in SCHEMA_V1.split(";"):  # one by one: executescript would commit the migration's transaction
        if statement.strip():
            db.execute(statement)


@migration
def m002_run_identity(db: sqlite3.Connection) -> None:
    """A run's identity in columns of its own: label, matrix cell key, model options (the former config),
    dataset options, training selection, provenance (checkpoint, devices, the run that trained or predicted)."""
    db.execute("ALTER TABLE runs RENAME COLUMN config TO model_options")
    for column in ("label TEXT", "cell_key TEXT", "train_selection TEXT",
                   "dataset_options TEXT NOT NULL DEFAULT '{}'", "provenance TEXT NOT NULL DEFAULT '{}'"):
        db.execute(f"ALTER TABLE runs ADD COLUMN {column}")
    rows = db.execute("SELECT id, model_options, train_count FROM runs").fetchall()
    for run_id, config, train_count in rows:
        parts = split_legacy_config(json.loads(config), train_count)
        db.execute("UPDATE runs SET model_options=?, dataset_options=?, cell_key=?, train_selection=?, provenance=? "
                   "WHERE id=?", (json.dumps(parts["model_options"], sort_keys=True),
                                  json.dumps(parts["dataset_options"], sort_keys=True), parts["cell_key"],
                                  parts["train_selection"], json.dumps(parts["provenance"], sort_keys=True), run_id))
    db.execute("CREATE INDEX IF NOT EXISTS runs_by_cell_key ON runs(cell_key)")


def _migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Apply the missing migrations in order, each in its own transaction; returns the schema version (the
    number applied). A store written by a newer fabrec-bench (migrations this one does not know) is refused."""
    conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    known = [m.__name__ for m in MIGRATIONS]
    applied = {r[0] for r in conn.execute("SELECT name FROM migrations")}
    newer = applied - set(known)
    if newer:
        raise UserError(f"{path}: written by a newer fabrec-bench (schema steps {', '.join(sorted(newer))}); "
                        "upgrade fabrec-bench to read it")
    for step in MIGRATIONS:
        if step.__name__ in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have applied it while this one waited for the lock.
            if not conn.execute("SELECT 1 FROM migrations WHERE name=?", (step.__name__,)).fetchone():
                step(conn)
                conn.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (step.__name__, time.time()))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return len(known)


@dataclass(frozen=True)
class RunIdentity:
    """What a stored run is: which model (with which options and label) on which data, trained how, scored
    how. Runs that share everything here but the seed are one configuration (one leaderboard row)."""

    model: str
    dataset: str
    split: str
    protocol: dict = field(default_factory=dict)
    label: str | None = None
    model_options: dict = field(default_factory=dict)  # the options given (the model's defaults fill the rest)
    dataset_options: dict = field(default_factory=dict)
    train_split: str | None = None
    train_count: int | None = None
    train_selection: str | None = None  # which train_count faces: "random" (seeded) or "first"
    seed: int | None = None
    cell_key: str | None = None  # the matrix cell the run was made for
    kind: str = "run"  # "run", or "score" for a scored predictions file


@dataclass(frozen=True)
class Provenance:
    """Where a run's numbers came from: the code and library versions, the checkpoint, the devices, the run
    whose training or predictions it used, a scored file."""

    code_version: str | None = None
    versions: dict = field(default_factory=dict)
    checkpoint: str | None = None
    devices: dict = field(default_factory=dict)  # e.g. {"device": "cuda:0", "visible_gpus": "0,1"}
    trained_in_run: str | None = None
    predictions_of_run: str | None = None
    predictions: str | None = None  # a predictions file scored by `fabrec-bench score`
    data_root: str | None = None  # the dataset root the faces were read from (`show` re-reads its images)

    def record(self) -> dict:
        """The provenance column: what is set, apart from the code and library versions (columns of their own)."""
        fields_ = {"checkpoint": self.checkpoint, "devices": self.devices or None,
                   "trained_in_run": self.trained_in_run, "predictions_of_run": self.predictions_of_run,
                   "predictions": self.predictions, "data_root": self.data_root}
        return {k: v for k, v in fields_.items() if v is not None}


@dataclass
class RunRecord:
    """A stored run with its metric values (metrics as fractions)."""

    id: int
    uid: str
    model: str
    dataset: str
    split: str
    train_split: str | None
    train_count: int | None
    seed: int | None
    model_options: dict
    protocol: dict
    model_info: dict
    code_version: str | None
    versions: dict
    status: str
    error: str | None
    n_faces: int | None
    started_at: float
    finished_at: float | None
    train_seconds: float | None
    eval_seconds: float | None
    run_dir: str | None
    kind: str
    metrics: dict[str, float]
    label: str | None = None
    cell_key: str | None = None
    dataset_options: dict = field(default_factory=dict)
    train_selection: str | None = None
    provenance: dict = field(default_factory=dict)


class ResultsStore:
    """Access to the SQLite results file; safe for several processes (WAL mode, busy timeout)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self.schema_version = _migrate(self._conn, self.path)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _transaction(self):
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

    def start_run(self, identity: RunIdentity, provenance: Provenance | None = None, *,
                  run_root: Path | None = None) -> tuple[int, str, Path | None]:
        """Insert a 'running' row; returns its id, uid and (if `run_root`) a fresh folder for its files."""
        provenance = provenance or Provenance()
        uid = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8]
        run_dir = None
        if run_root is not None:
            run_dir = Path(run_root) / uid
            run_dir.mkdir(parents=True, exist_ok=False)
        i = identity
        with self._transaction() as c:
            cur = c.execute(
                "INSERT INTO runs (uid, model, dataset, split, train_split, train_count, seed, model_options, protocol,"
                " code_version, versions, status, started_at, host, pid, run_dir, kind, label, cell_key,"
                " train_selection, dataset_options, provenance)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    uid, i.model, i.dataset, i.split, i.train_split, i.train_count, i.seed,
                    json.dumps(i.model_options, sort_keys=True), json.dumps(i.protocol, sort_keys=True),
                    provenance.code_version, json.dumps(provenance.versions, sort_keys=True), time.time(),
                    socket.gethostname(), os.getpid(), str(run_dir) if run_dir else None, i.kind, i.label, i.cell_key,
                    i.train_selection, json.dumps(i.dataset_options, sort_keys=True),
                    json.dumps(provenance.record(), sort_keys=True),
                ),
            )
            return int(cur.lastrowid), uid, run_dir

    def finish_run(
        self,
        run_id: int,
        *,
        metrics: dict[str, float],
        face_ids: list[str],
        per_face_nme: np.ndarray,
        model_info: dict | None = None,
        train_seconds: float | None = None,
        eval_seconds: float | None = None,
        landmark_errors: tuple[np.ndarray, np.ndarray] | None = None,
        provenance: dict | None = None,
    ) -> None:
        """Store metrics, per-face errors and (optionally) per-landmark errors with the mean face they are drawn
        on, `(nme (L,), mean_face (L, 2))`, and mark the run finished, all in one transaction. `provenance`
        adds what is known only once the run has predicted (what set each face's crop)."""
        per_face_nme = np.asarray(per_face_nme, dtype=np.float64)
        with self._transaction() as c:
            if provenance:
                (stored,) = c.execute("SELECT provenance FROM runs WHERE id=?", (run_id,)).fetchone()
                merged = {**json.loads(stored or "{}"), **provenance}
                c.execute("UPDATE runs SET provenance=? WHERE id=?", (json.dumps(merged, sort_keys=True), run_id))
            if landmark_errors is not None:
                self._insert_landmark_errors(c, run_id, *landmark_errors)
            c.executemany(
                "INSERT INTO metrics (run_id, name, value) VALUES (?, ?, ?)",
                [(run_id, k, float(v)) for k, v in metrics.items()],
            )
            c.executemany(
                "INSERT INTO face_errors (run_id, face_id, nme) VALUES (?, ?, ?)",
                [(run_id, fid, float(e)) for fid, e in zip(face_ids, per_face_nme, strict=True)],
            )
            c.execute(
                "UPDATE runs SET status='finished', finished_at=?, n_faces=?, model_info=?, train_seconds=?,"
                " eval_seconds=? WHERE id=? AND status='running'",
                (time.time(), len(face_ids), json.dumps(model_info or {}, sort_keys=True), train_seconds,
                 eval_seconds, run_id),
            )

    @staticmethod
    def _insert_landmark_errors(c, run_id: int, nme, face) -> None:
        nme = np.asarray(nme, dtype=np.float64)
        face = np.asarray(face, dtype=np.float64).reshape(-1, 2)
        c.executemany(
            "INSERT INTO landmark_errors (run_id, landmark, nme, mean_x, mean_y) VALUES (?, ?, ?, ?, ?)",
            [(run_id, i, None if np.isnan(e) else float(e), float(x), float(y))
             for i, (e, (x, y)) in enumerate(zip(nme, face, strict=True))],
        )

    def fail_run(self, run_id: int, error: str, status: str = "failed") -> None:
        """Mark a run failed or interrupted, keeping the error text."""
        with self._transaction() as c:
            c.execute(
                "UPDATE runs SET status=?, error=?, finished_at=? WHERE id=? AND status='running'",
                (status, error, time.time(), run_id),
            )

    def mark_stale(self) -> int:
        """Mark 'running' rows of this host whose process no longer exists as 'interrupted'."""
        host = socket.gethostname()
        rows = self._conn.execute("SELECT id, pid FROM runs WHERE status='running' AND host=?", (host,)).fetchall()
        stale = [r["id"] for r in rows if r["pid"] is not None and not _pid_alive(r["pid"])]
        for run_id in stale:
            self.fail_run(run_id, "the process running it ended without finishing", status="interrupted")
        return len(stale)

    def runs(
        self,
        *,
        status: str | None = "finished",
        dataset: str | None = None,
        split: str | None = None,
        model: str | None = None,
        train_count: int | None = None,
        label: str | None = None,
        cell_key: str | None = None,
    ) -> list[RunRecord]:
        """Runs matching the filters (None = any), oldest first, with their metrics."""
        where, args = [], []
        for column, value in (("status", status), ("dataset", dataset), ("split", split), ("model", model),
                              ("train_count", train_count), ("label", label), ("cell_key", cell_key)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        rows = self._conn.execute(sql, args).fetchall()
        metrics: dict[int, dict[str, float]] = {}
        if rows:
            ids = [r["id"] for r in rows]
            for m in self._conn.execute(
                f"SELECT run_id, name, value FROM metrics WHERE run_id IN ({','.join('?' * len(ids))})", ids
            ):
                metrics.setdefault(m["run_id"], {})[m["name"]] = m["value"]
        return [
            RunRecord(
                id=r["id"], uid=r["uid"], model=r["model"], dataset=r["dataset"], split=r["split"],
                train_split=r["train_split"], train_count=r["train_count"], seed=r["seed"],
                model_options=json.loads(r["model_options"]), protocol=json.loads(r["protocol"]),
                model_info=json.loads(r["model_info"]), code_version=r["code_version"],
                versions=json.loads(r["versions"]), status=r["status"],
                error=r["error"], n_faces=r["n_faces"], started_at=r["started_at"], finished_at=r["finished_at"],
                train_seconds=r["train_seconds"], eval_seconds=r["eval_seconds"], run_dir=r["run_dir"],
                kind=r["kind"], metrics=metrics.get(r["id"], {}), label=r["label"], cell_key=r["cell_key"],
                dataset_options=json.loads(r["dataset_options"]), train_selection=r["train_selection"],
                provenance=json.loads(r["provenance"]),
            )
            for r in rows
        ]

    def face_errors(self, run_id: int) -> dict[str, float]:
        """Per-face NME (fractions) of one run, by face id."""
        rows = self._conn.execute("SELECT face_id, nme FROM face_errors WHERE run_id=?", (run_id,))
        return {r["face_id"]: r["nme"] for r in rows}

    def landmark_errors(self, run_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-landmark NME (L,) and the mean face (L, 2) in box coordinates, or None for runs without them."""
        rows = self._conn.execute("SELECT nme, mean_x, mean_y FROM landmark_errors WHERE run_id=? ORDER BY landmark",
                                  (run_id,)).fetchall()
        if not rows:
            return None
        nme = np.array([np.nan if r["nme"] is None else r["nme"] for r in rows], dtype=np.float64)
        return nme, np.array([[r["mean_x"], r["mean_y"]] for r in rows], dtype=np.float64)


EXPORT_FORMAT = "fabrec-bench/results/2"
LEGACY_EXPORT_FORMAT = "fabrec-bench/results/1"  # the run's identity inside `config`: still imported
_JSON_COLUMNS = ("model_options", "protocol", "model_info", "versions", "dataset_options", "provenance")
_EXPORTED_COLUMNS = ("uid", "model", "dataset", "split", "train_split", "train_count", "seed", "model_options",
                     "protocol", "model_info", "code_version", "versions", "status", "n_faces", "started_at",
                     "finished_at", "train_seconds", "eval_seconds", "host", "kind", "run_dir", "label", "cell_key",
                     "train_selection", "dataset_options", "provenance")
_LEGACY_REQUIRED = ("uid", "model", "dataset", "split", "train_split", "train_count", "seed", "config", "protocol",
                    "model_info", "code_version", "versions", "status", "n_faces", "started_at", "finished_at",
                    "train_seconds", "eval_seconds", "host", "kind")


def export_runs(store: ResultsStore, out, *, uids: set[str] | None = None, **filters) -> int:
    """Write finished runs (those with `uids` if given) as JSON lines (run fields, metrics, per-face and
    per-landmark NME); returns how many."""
    count = 0
    for run in store.runs(status="finished", **filters):
        if uids is not None and run.uid not in uids:
            continue
        row = store._conn.execute("SELECT * FROM runs WHERE id=?", (run.id,)).fetchone()
        record = {"format": EXPORT_FORMAT, **{k: row[k] for k in _EXPORTED_COLUMNS}}
        for key in _JSON_COLUMNS:
            record[key] = json.loads(record[key])
        record["metrics"] = run.metrics
        record["face_errors"] = store.face_errors(run.id)
        landmarks = store.landmark_errors(run.id)
        if landmarks is not None:
            record["landmark_errors"] = {"nme": [None if np.isnan(e) else e for e in landmarks[0].tolist()],
                                         "mean_face": landmarks[1].tolist()}
        out.write(json.dumps(record, sort_keys=True) + "\n")
        count += 1
    return count


def _current_record(record: dict, where: str) -> dict:
    """An exported record in the current format (a record of format 1 has its identity split out of config)."""
    if record.get("format") == LEGACY_EXPORT_FORMAT:
        missing = [k for k in (*_LEGACY_REQUIRED, "metrics", "face_errors") if k not in record]
        if missing:
            raise UserError(f"{where}: not a fabrec-bench results record (missing {', '.join(missing)})")
        record = {**record, **split_legacy_config(record.pop("config"), record["train_count"]), "label": None}
        return {k: record.get(k) for k in (*_EXPORTED_COLUMNS, "metrics", "face_errors", "landmark_errors")}
    missing = [k for k in (*_EXPORTED_COLUMNS, "metrics", "face_errors") if k not in record]
    if record.get("format") != EXPORT_FORMAT or missing:
        raise UserError(f"{where}: not a fabrec-bench results record"
                        + (f" (missing {', '.join(missing)})" if missing else ""))
    return record


def import_runs(store: ResultsStore, lines, source: str = "") -> tuple[int, int]:
    """Add exported runs whose uid the store does not have yet; returns (added, already present).

    Every line is checked before anything is written, and all are added in one transaction, so a bad file
    changes nothing. Exports of earlier versions are read too.
    """
    records = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{source}:{n}: not JSON ({e.msg})") from None
        if not isinstance(record, dict):
            raise UserError(f"{source}:{n}: not a fabrec-bench results record")
        record = _current_record(record, f"{source}:{n}")
        if record["status"] != "finished":
            raise UserError(f"{source}:{n}: run {record['uid']} is {record['status']}, only finished runs are imported")
        records.append(record)
    added = present = 0
    with store._transaction() as c:
        for record in records:
            if c.execute("SELECT 1 FROM runs WHERE uid=?", (record["uid"],)).fetchone():
                present += 1
                continue
            values = [json.dumps(record[k] or {}, sort_keys=True) if k in _JSON_COLUMNS else record.get(k)
                      for k in _EXPORTED_COLUMNS]
            cur = c.execute(f"INSERT INTO runs ({', '.join(_EXPORTED_COLUMNS)}) VALUES "
                            f"({', '.join('?' * len(_EXPORTED_COLUMNS))})", values)
            run_id = cur.lastrowid
            c.executemany("INSERT INTO metrics (run_id, name, value) VALUES (?, ?, ?)",
                          [(run_id, k, v) for k, v in record["metrics"].items()])
            c.executemany("INSERT INTO face_errors (run_id, face_id, nme) VALUES (?, ?, ?)",
                          [(run_id, k, v) for k, v in record["face_errors"].items()])
            if record.get("landmark_errors"):
                nme = [np.nan if e is None else e for e in record["landmark_errors"]["nme"]]
                store._insert_landmark_errors(c, run_id, nme, record["landmark_errors"]["mean_face"])
            added += 1
    return added, present


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def store_path(work_dir: Path) -> Path:
    """The results database inside a work directory."""
    return Path(work_dir) / "results.sqlite"
