"""The results store: one SQLite file in the work directory.

One row per run (model, dataset, split, training-set size, seed, config, protocol, code version, timings,
status), its metric values and its per-face errors. A run is inserted as 'running' and only becomes a
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fabrec_bench.errors import UserError

SCHEMA = """
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
    config: dict
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
        self._conn.executescript(SCHEMA)

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

    def start_run(
        self,
        *,
        model: str,
        dataset: str,
        split: str,
        train_split: str | None = None,
        train_count: int | None = None,
        seed: int | None = None,
        config: dict | None = None,
        protocol: dict | None = None,
        code_version: str | None = None,
        versions: dict | None = None,
        run_root: Path | None = None,
        kind: str = "run",
    ) -> tuple[int, str, Path | None]:
        """Insert a 'running' row; returns its id, uid and (if `run_root`) a fresh folder for its files."""
        uid = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8]
        run_dir = None
        if run_root is not None:
            run_dir = Path(run_root) / uid
            run_dir.mkdir(parents=True, exist_ok=False)
        with self._transaction() as c:
            cur = c.execute(
                "INSERT INTO runs (uid, model, dataset, split, train_split, train_count, seed, config, protocol,"
                " code_version, versions, status, started_at, host, pid, run_dir, kind)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                (
                    uid, model, dataset, split, train_split, train_count, seed,
                    json.dumps(config or {}, sort_keys=True), json.dumps(protocol or {}, sort_keys=True),
                    code_version, json.dumps(versions or {}, sort_keys=True), time.time(),
                    socket.gethostname(), os.getpid(), str(run_dir) if run_dir else None, kind,
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
    ) -> None:
        """Store metrics, per-face errors and (optionally) per-landmark errors with the mean face they are drawn
        on, `(nme (L,), mean_face (L, 2))`, and mark the run finished, all in one transaction."""
        per_face_nme = np.asarray(per_face_nme, dtype=np.float64)
        with self._transaction() as c:
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
    ) -> list[RunRecord]:
        """Runs matching the filters (None = any), oldest first, with their metrics."""
        where, args = [], []
        for column, value in (("status", status), ("dataset", dataset), ("split", split), ("model", model),
                              ("train_count", train_count)):
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
                config=json.loads(r["config"]), protocol=json.loads(r["protocol"]),
                model_info=json.loads(r["model_info"]), code_version=r["code_version"],
                versions=json.loads(r["versions"]), status=r["status"],
                error=r["error"], n_faces=r["n_faces"], started_at=r["started_at"], finished_at=r["finished_at"],
                train_seconds=r["train_seconds"], eval_seconds=r["eval_seconds"], run_dir=r["run_dir"],
                kind=r["kind"], metrics=metrics.get(r["id"], {}),
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


EXPORT_FORMAT = "fabrec-bench/results/1"
# run_dir is where the run's folder lies on the host that made it (absent in older exports).
_OPTIONAL_COLUMNS = ("run_dir",)
_EXPORTED_COLUMNS = ("uid", "model", "dataset", "split", "train_split", "train_count", "seed", "config", "protocol",
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
        record = {"format": EXPORT_FORMAT, **{k: row[k] for k in (*_EXPORTED_COLUMNS, *_OPTIONAL_COLUMNS)}}
        for key in ("config", "protocol", "model_info", "versions"):
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


def import_runs(store: ResultsStore, lines, source: str = "") -> tuple[int, int]:
    """Add exported runs whose uid the store does not have yet; returns (added, already present).

    Every line is checked before anything is written, and all are added in one transaction, so a bad file
    changes nothing.
    """
    records = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{source}:{n}: not JSON ({e.msg})") from None
        missing = [k for k in (*_EXPORTED_COLUMNS, "metrics", "face_errors") if k not in record]
        if record.get("format") != EXPORT_FORMAT or missing:
            raise UserError(f"{source}:{n}: not a fabrec-bench results record"
                            + (f" (missing {', '.join(missing)})" if missing else ""))
        if record["status"] != "finished":
            raise UserError(f"{source}:{n}: run {record['uid']} is {record['status']}, only finished runs are imported")
        records.append(record)
    added = present = 0
    with store._transaction() as c:
        for record in records:
            if c.execute("SELECT 1 FROM runs WHERE uid=?", (record["uid"],)).fetchone():
                present += 1
                continue
            columns = (*_EXPORTED_COLUMNS, *_OPTIONAL_COLUMNS)
            values = [json.dumps(record[k], sort_keys=True) if k in ("config", "protocol", "model_info", "versions")
                      else record.get(k) for k in columns]
            cur = c.execute(f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                            values)
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
