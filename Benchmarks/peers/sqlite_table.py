#!/usr/bin/env python3
# Usage: python3 Benchmarks/peers/sqlite_table.py FOLDER [TRANSACTIONS=300] [ROUNDS=3] [SYNCHRONOUS=FULL]
# What each part of the SQLite events table costs an append: 100-event transactions (BEGIN IMMEDIATE, the
# stream row inserted and updated, one executemany of the events), WAL, on the given folder.
import os, sqlite3, sys, time, uuid, json

folder = sys.argv[1]
SYNC = sys.argv[4] if len(sys.argv) > 4 else "FULL"
batches = int(sys.argv[2]) if len(sys.argv) > 2 else 300
filler = "x" * 120

BASE = """
CREATE TABLE streams (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, category TEXT,
  metadata TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
CREATE TABLE events (global_position INTEGER PRIMARY KEY {auto}, stream_id INTEGER NOT NULL, position INTEGER NOT NULL,
  uuid {uuidtype} NOT NULL, message_name TEXT NOT NULL, payload TEXT NOT NULL, metadata TEXT NOT NULL, created_at TEXT NOT NULL,
  aggregate_type TEXT, aggregate_id TEXT, aggregate_version TEXT, UNIQUE (stream_id, position) {uuidindex});
{aggregate}
"""
AGG = "CREATE UNIQUE INDEX agg ON events (stream_id, aggregate_type, aggregate_id, aggregate_version) WHERE aggregate_type IS NOT NULL;"

variants = {
    "store's table": dict(auto="AUTOINCREMENT", uuidtype="TEXT", uuidindex=", UNIQUE (stream_id, uuid)", aggregate=AGG),
    "no aggregate index": dict(auto="AUTOINCREMENT", uuidtype="TEXT", uuidindex=", UNIQUE (stream_id, uuid)", aggregate=""),
    "no uuid index": dict(auto="AUTOINCREMENT", uuidtype="TEXT", uuidindex="", aggregate=AGG),
    "uuid as 16-byte blob": dict(auto="AUTOINCREMENT", uuidtype="BLOB", uuidindex=", UNIQUE (stream_id, uuid)", aggregate=AGG),
    "no AUTOINCREMENT": dict(auto="", uuidtype="TEXT", uuidindex=", UNIQUE (stream_id, uuid)", aggregate=AGG),
    "position key only": dict(auto="", uuidtype="TEXT", uuidindex="", aggregate=""),
}

def rows(stream_id, first, blob):
    out = []
    for v in range(first, first + 100):
        u = uuid.uuid4()
        payload = json.dumps({"email": f"user{stream_id}@example.com", "filler": filler, "name": f"Name {stream_id} v{v}", "user_id": f"user-{stream_id}"}, separators=(",", ":"))
        meta = json.dumps({"_aggregate_id": f"agg-{stream_id % 100}", "_aggregate_type": "user", "_aggregate_version": v}, separators=(",", ":"))
        out.append((stream_id, v, u.bytes if blob else str(u), "UserRenamed", payload, meta, "2026-12-06T08:00:00.000000Z", "user", f"agg-{stream_id % 100}-{stream_id}", str(v)))
    return out

def run(name, spec):
    path = os.path.join(folder, "idx.sqlite")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix): os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL"); db.execute(f"PRAGMA synchronous = {SYNC}")
    db.executescript(BASE.format(**spec))
    blob = spec["uuidtype"] == "BLOB"
    prepared = [(f"s-{i}", rows(i + 1, 1, blob)) for i in range(batches)]
    started = time.perf_counter()
    for i, (stream, batch) in enumerate(prepared):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO streams (name, metadata, version, created_at) VALUES (?, '{}', 0, '2026')", (stream,))
        db.executemany("INSERT INTO events (stream_id, position, uuid, message_name, payload, metadata, created_at, aggregate_type, aggregate_id, aggregate_version) VALUES (?,?,?,?,?,?,?,?,?,?)", batch)
        db.execute("UPDATE streams SET version = 100 WHERE id = ?", (i + 1,))
        db.execute("COMMIT")
    took = time.perf_counter() - started
    db.close()
    return batches * 100 / took

results = {name: [] for name in variants}
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
for round in range(ROUNDS):
    for name, spec in variants.items():
        results[name].append(run(name, spec))
base = sorted(results["store's table"])[ROUNDS // 2]
print(f"| table | events/s, median of the rounds | median vs the store's table |")
print("|---|---:|---:|")
for name, rates in results.items():
    median = sorted(rates)[ROUNDS // 2]
    print(f"| {name} | {median:,.0f} | {median / base:.2f} |")
