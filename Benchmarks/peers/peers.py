"""The peers of `eventstore bench`: pyeventsourcing's recorders and a plain psycopg table, run with the
workloads' sizes, event shape and writer counts on the same PostgreSQL server and SQLite folder.

Prints a table (events/s, p50 and p99 ms per append) and, with --store-json, puts the rows of an
`eventstore bench --json` file of the same run beside them. Run it through Benchmarks/peers/run, which
makes its virtual environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, asdict
from urllib.parse import urlparse, unquote, parse_qs

# Workload sizes: those of eventstore bench (Sources/EventStoreBenchmarks/Workloads.swift, BenchScale).
FULL = dict(batch_streams=1000, single_events=2000, writer_events=250, stream_events=100_000)
QUICK = dict(batch_streams=20, single_events=100, writer_events=20, stream_events=5000)
WRITERS = 8
BATCH = 100


def payload(aggregate: int, version: int) -> bytes:
    """The event of BenchEvents.event (Sources/EventStoreBenchmarks/Measure.swift): about 200 bytes of
    JSON payload and the aggregate triple, kept together as the recorder's state."""
    document = {
        "message_name": "UserRegistered" if version == 1 else "UserRenamed",
        "payload": {
            "user_id": f"user-{aggregate}",
            "name": f"Name {aggregate} v{version}",
            "email": f"user{aggregate}@example.com",
            "filler": "x" * 120,
        },
        "metadata": {
            "_aggregate_type": "user",
            "_aggregate_id": f"agg-{aggregate % 100}",
            "_aggregate_version": version,
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


@dataclass
class Row:
    workload: str
    backend: str
    peer: str
    events_per_second: float
    p50_ms: float | None
    p99_ms: float | None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Peer:
    """One recorder: appends a batch to a stream (version after `first` - 1) and loads a stream."""

    name = "peer"

    def append(self, stream: int, first: int, events: list[bytes]) -> None:
        raise NotImplementedError

    def load(self, stream: int) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass


class EventsourcingPeer(Peer):
    """pyeventsourcing's aggregate or application recorder (the second keeps a global order)."""

    def __init__(self, name: str, recorder, originator_ids: dict[int, uuid.UUID]):
        from eventsourcing.persistence import StoredEvent

        self.name = name
        self.recorder = recorder
        self.StoredEvent = StoredEvent
        self.ids = originator_ids
        recorder.create_table()

    def originator(self, stream: int) -> uuid.UUID:
        return self.ids.setdefault(stream, uuid.uuid5(uuid.NAMESPACE_URL, f"stream-{stream}"))

    def append(self, stream: int, first: int, events: list[bytes]) -> None:
        originator = self.originator(stream)
        self.recorder.insert_events(
            [self.StoredEvent(originator, first + i, "bench:Deposited", state) for i, state in enumerate(events)]
        )

    def load(self, stream: int) -> int:
        count, after = 0, None
        # Read in pages of 1,000, as the store's load does (readBatchSize).
        while True:
            page = self.recorder.select_events(self.originator(stream), gt=after, limit=1000)
            count += len(page)
            if len(page) < 1000:
                return count
            after = page[-1].originator_version


class PsycopgTablePeer(Peer):
    """A plain table through psycopg 3 (libpq): the events of a stream under a primary key, one INSERT of
    the whole batch in a transaction, a whole stream read with one SELECT."""

    name = "psycopg-table"

    def __init__(self, url: str, table: str):
        from psycopg_pool import ConnectionPool

        self.table = table
        self.pool = ConnectionPool(url, min_size=WRITERS, max_size=WRITERS, open=True)
        with self.pool.connection() as c:
            c.execute(
                f"CREATE TABLE {table} (stream text NOT NULL, position bigint NOT NULL, id uuid NOT NULL, "
                "name text NOT NULL, payload bytea NOT NULL, PRIMARY KEY (stream, position))"
            )

    def append(self, stream: int, first: int, events: list[bytes]) -> None:
        name = f"stream-{stream}"
        with self.pool.connection() as c:
            with c.transaction():
                c.execute(
                    f"INSERT INTO {self.table} SELECT %s, p, i, 'Deposited', b "
                    "FROM unnest(%s::bigint[], %s::uuid[], %s::bytea[]) AS u(p, i, b)",
                    (name, list(range(first, first + len(events))), [uuid.uuid4() for _ in events], events),
                    prepare=True,
                )

    def load(self, stream: int) -> int:
        with self.pool.connection() as c:
            cursor = c.execute(
                f"SELECT position, id, name, payload FROM {self.table} WHERE stream = %s ORDER BY position",
                (f"stream-{stream}",), prepare=True,
            )
            return len(cursor.fetchall())

    def close(self) -> None:
        with self.pool.connection() as c:
            c.execute(f"DROP TABLE IF EXISTS {self.table}")
        self.pool.close()


def postgres_settings(url: str) -> dict:
    parsed = urlparse(url)
    return dict(
        dbname=parsed.path.lstrip("/") or "postgres",
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=unquote(parsed.username or "postgres"),
        password=unquote(parsed.password or ""),
    )


def libpq_url(url: str) -> str:
    """The URL without the store's own settings (pool_size, query_timeout, …), which libpq refuses."""
    parsed = urlparse(url)
    keep = {k: v for k, v in parse_qs(parsed.query).items() if k in ("sslmode",)}
    query = "&".join(f"{k}={v[0]}" for k, v in keep.items())
    return parsed._replace(query=query).geturl()


def make_peers(backend: str, target: str, run_id: str) -> list[Peer]:
    """Fresh tables for each workload (named after `run_id`)."""
    if backend == "postgres":
        from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder, PostgresDatastore

        settings = postgres_settings(target)
        datastore = PostgresDatastore(**settings, pool_size=WRITERS, schema="public")
        return [
            EventsourcingPeer(
                "pyeventsourcing-aggregate", PostgresAggregateRecorder(datastore, events_table_name=f"es_agg_{run_id}"), {}
            ),
            EventsourcingPeer(
                "pyeventsourcing-application",
                PostgresApplicationRecorder(datastore, events_table_name=f"es_app_{run_id}"),
                {},
            ),
            PsycopgTablePeer(libpq_url(target), f"plain_{run_id}"),
        ]
    from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder, SQLiteDatastore

    peers = []
    for name, recorder in (
        ("pyeventsourcing-aggregate", SQLiteAggregateRecorder),
        ("pyeventsourcing-application", SQLiteApplicationRecorder),
    ):
        path = os.path.join(target, f"{name}-{run_id}.sqlite")
        datastore = SQLiteDatastore(path, pool_size=WRITERS)
        peer = EventsourcingPeer(name, recorder(datastore), {})
        with datastore.transaction(commit=False) as c:
            # The store's default, and SQLite's: every commit synced (WAL, synchronous = FULL).
            c.execute("PRAGMA synchronous")
            level = c.fetchone()[0]
            assert level == 2, f"{name}: synchronous is {level}, not FULL (2)"
        peers.append(peer)
    return peers


def drop(peers: list[Peer], backend: str, run_id: str, target: str) -> None:
    for peer in peers:
        peer.close()
    # pyeventsourcing's pools (on PostgreSQL one shared by both recorders), closed once each.
    datastores = {id(p.recorder.datastore): p.recorder.datastore for p in peers if isinstance(p, EventsourcingPeer)}
    for datastore in datastores.values():
        datastore.close()
    if backend == "postgres":
        import psycopg

        with psycopg.connect(libpq_url(target), autocommit=True) as c:
            for table in (f"es_agg_{run_id}", f"es_app_{run_id}"):
                c.execute(f"DROP TABLE IF EXISTS {table}")


def concurrently(writers: int, per_writer: int, write) -> tuple[float, list[float]]:
    """Runs `writers` threads, each calling write(writer, number) for numbers 1…per_writer."""
    latencies: list[list[float]] = [[] for _ in range(writers)]
    errors: list[BaseException] = []

    def work(writer: int) -> None:
        try:
            for number in range(1, per_writer + 1):
                start = time.perf_counter()
                write(writer, number)
                latencies[writer].append(time.perf_counter() - start)
        except BaseException as error:  # reported after the run
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started, [l for own in latencies for l in own]


def run_workloads(backend: str, target: str, scale: dict, workloads: set[str]) -> list[Row]:
    rows: list[Row] = []

    def measured(name: str, body) -> None:
        run_id = uuid.uuid4().hex[:8]
        peers = make_peers(backend, target, run_id)
        try:
            for peer in peers:
                events, seconds, latencies = body(peer)
                rows.append(
                    Row(name, backend, peer.name, events / seconds, percentile(latencies, 0.5), percentile(latencies, 0.99))
                )
                print(f"peers: {name} {backend} {peer.name}: {events / seconds:,.0f} events/s", file=sys.stderr)
        finally:
            drop(peers, backend, run_id, target)

    streams = scale["batch_streams"]
    batches = [[payload(s, v) for v in range(1, BATCH + 1)] for s in range(streams)]
    if "append-batch" in workloads:

        def one_writer(peer: Peer):
            seconds, latencies = concurrently(1, streams, lambda w, n: peer.append(n - 1, 1, batches[n - 1]))
            return streams * BATCH, seconds, latencies

        measured("append-batch", one_writer)
        per_writer = max(1, streams // WRITERS)

        def eight_writers(peer: Peer):
            def write(writer: int, number: int) -> None:
                index = writer * per_writer + number - 1
                peer.append(index, 1, batches[index])

            seconds, latencies = concurrently(WRITERS, per_writer, write)
            return WRITERS * per_writer * BATCH, seconds, latencies

        measured(f"append-batch-{WRITERS}w", eight_writers)
    if "append-single" in workloads:
        for writers, per_writer in ((1, scale["single_events"]), (WRITERS, scale["writer_events"])):

            def single(peer: Peer, writers=writers, per_writer=per_writer):
                seconds, latencies = concurrently(
                    writers, per_writer, lambda w, n: peer.append(10_000 + w, n, [payload(w, n)])
                )
                return writers * per_writer, seconds, latencies

            measured(f"append-single-{writers}w", single)
    if "load-stream" in workloads:
        length = scale["stream_events"]

        def load(peer: Peer):
            for first in range(1, length + 1, 1000):
                count = min(1000, length - first + 1)
                peer.append(0, first, [payload(0, v) for v in range(first, first + count)])
            best = None
            for _ in range(3):  # the best of three, as eventstore bench keeps for reads
                started = time.perf_counter()
                loaded = peer.load(0)
                seconds = time.perf_counter() - started
                assert loaded == length, f"{peer.name} loaded {loaded} of {length} events"
                best = seconds if best is None else min(best, seconds)
            return length, best, []

        measured("load-stream-forward", load)
    return rows


def store_rows(path: str) -> list[Row]:
    """The store's and its raw baselines' rows from an `eventstore bench --json` file."""
    rows = []
    with open(path) as file:
        for result in json.load(file):
            backend = "postgres" if result["backend"].startswith("postgres") else result["backend"]
            rows.append(
                Row(result["workload"], backend, "swift-event-store", result["events_per_second"], result.get("p50_ms"),
                    result.get("p99_ms"))
            )
            if result.get("baseline_events_per_second"):
                raw = {"postgres": "PostgresNIO raw", "sqlite": "libsqlite3 raw", "mariadb": "libmariadb raw"}.get(backend, "raw")
                # PostgreSQL's baseline reads through libpq, as the store does by default.
                if backend == "postgres" and not result["workload"].startswith(("append", "http")):
                    raw = "libpq raw"
                rows.append(Row(result["workload"], backend, f"{raw} (baseline)", result["baseline_events_per_second"], None, None))
    return rows


def table(rows: list[Row]) -> str:
    def number(value, digits=0):
        return "–" if value is None else f"{value:,.{digits}f}"

    lines = [
        "| workload | backend | who | events/s | × best peer | p50 ms | p99 ms |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    order = ["append-batch", "append-batch-8w", "append-single-1w", "append-single-8w", "load-stream-forward"]
    for backend in sorted({r.backend for r in rows}):
        for workload in order:
            group = [r for r in rows if r.backend == backend and r.workload == workload]
            peers = [r.events_per_second for r in group if r.peer.startswith("pyeventsourcing") or r.peer == "psycopg-table"]
            best = max(peers) if peers else None
            for r in sorted(group, key=lambda r: -r.events_per_second):
                share = r.events_per_second / best if best else None
                lines.append(
                    f"| {workload} | {backend} | {r.peer} | {number(r.events_per_second)} | {number(share, 2)} | "
                    f"{number(r.p50_ms, 2)} | {number(r.p99_ms, 2)} |"
                )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", help="a postgres:// URL (the server eventstore bench used)")
    parser.add_argument("--sqlite", help="a folder for the SQLite files")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--workload", action="append", choices=["append-batch", "append-single", "load-stream"])
    parser.add_argument("--store-json", help="an eventstore bench --json file of the same run, shown beside the peers")
    parser.add_argument("--json", help="write the rows here")
    arguments = parser.parse_args()
    if not arguments.postgres and not arguments.sqlite:
        parser.error("name --postgres URL, --sqlite DIR or both")
    scale = QUICK if arguments.quick else FULL
    workloads = set(arguments.workload or ["append-batch", "append-single", "load-stream"])
    rows: list[Row] = []
    if arguments.postgres:
        rows += run_workloads("postgres", arguments.postgres, scale, workloads)
    if arguments.sqlite:
        rows += run_workloads("sqlite", arguments.sqlite, scale, workloads)
    if arguments.store_json:
        rows += store_rows(arguments.store_json)
    if arguments.json:
        with open(arguments.json, "w") as file:
            json.dump([asdict(r) for r in rows], file, indent=1)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
