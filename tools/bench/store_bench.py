#!/usr/bin/env python3
"""The job store at scale: a million jobs with results, and what operators and workers feel of it.

Fills a scratch database (real PostgreSQL from PG*, the schema from `zipar-admin migrate`) with --jobs
synthetic jobs in SQL: 80% done with a result (a small PNG, 76 pass times), 5% failed, 1% cancelled,
14% queued, created over the last 30 days, all but 1,000 results already exported. Then it measures, each
the median of --repeats runs:

- `zipar-admin stats`, `jobs`, `jobs --state failed`, `show`, `workers`, `queues`, `export --only-new` (the
  1,000 new results);
- every dashboard page and API list through a live `zipar-admin serve`;
- claim latency p50 / p99 with 1 and 16 concurrent claimers (--claimers for other counts; pgbench running
  the worker's own prepared claim, one job per claim, per-transaction log). Runs follow each other on the
  same store with no vacuum between them, as a service's claims follow each other between autovacuums
  (the claims start at the claim floor of migration 0018, not at the dead entries of the jobs claimed
  before; docs/service.md, "The store at a million jobs"). Each run says how many claims got a job: a
  run that empties the queue times empty claims too, and says so;
- the tables' and indexes' sizes.

Targets (issue "operator's console"): claim p99 < 10 ms, every page and stats < 1 s.

    eval "$(scripts/pg-start.sh)"
    swift build -c release --product zipar-admin
    python3 -m tools.bench.store_bench --bin .build/release --jobs 1000000 --out docs/bench/store.md
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request

from tools.live_service import ROOT, free_port, psql, wait_for

# The worker's claim (JobStore.claim, Sources/JobStore/SQL.swift) with one queue, one model, limit 1. The claim
# itself is the database function zipar_claim (migrations/0016_cheaper_claims.sql, 0018_claim_floor.sql) that
# workers call too, so this cannot drift from what they run; only the columns read back are fewer. pgbench
# sends it as a prepared statement (-M prepared: parsed and planned once per connection, then bind and
# execute), as workers do (SQL.Claim, migration 0017).
CLAIM_SQL = """
SELECT j.id, j.lease_token FROM zipar_claim(1, '{bench}', '{fashion-16}', 'bench:' || :client_id, 30) j;
"""

# A 1x1 grey PNG: results need bytes, not pictures.
PNG_HEX = ("89504e470d0a1a0a0000000d4948445200000001000000010800000000"
           "3a7e9b550000000a49444154789c636800000082008177cd72b60000000049454e44ae426082")


def fill(db: str, jobs: int) -> float:
    t0 = time.time()
    psql(db, "INSERT INTO queues (name) VALUES ('bench') ON CONFLICT DO NOTHING")
    psql(db, f"""
        INSERT INTO jobs (queue, model, class_label, class_name, policy, seed, state, attempts, created_at,
                          updated_at, started_at, finished_at, run_after, label, prompt, errors)
        SELECT 'bench', 'fashion-16', g % 10, 'class' || (g % 10), CASE WHEN g % 3 = 0 THEN 'ntp' ELSE 'zipar:4' END,
               g, s.state, CASE WHEN s.state = 'queued' THEN 0 ELSE 1 END, c.at, c.at,
               CASE WHEN s.state IN ('done', 'failed') THEN c.at + interval '1 second' END,
               CASE WHEN s.state IN ('done', 'failed', 'cancelled') THEN c.at + interval '9 seconds' END,
               c.at, 'job-' || g, 'class' || (g % 10) || ' seed=' || g,
               CASE WHEN s.state = 'failed' THEN '[{{"at": "2026-01-01T00:00:00Z", "attempt": 1, "error": "synthetic"}}]'::jsonb
                    ELSE '[]'::jsonb END
        FROM generate_series(1, {jobs}) g,
             LATERAL (SELECT CASE WHEN g % 100 < 80 THEN 'done' WHEN g % 100 < 85 THEN 'failed'
                                  WHEN g % 100 < 86 THEN 'cancelled' ELSE 'queued' END AS state) s,
             LATERAL (SELECT now() - (interval '30 days') * ((({jobs} - g)::float8) / {jobs}) AS at) c
    """)
    psql(db, f"""
        INSERT INTO results (job_id, png, width, height, passes, ntp_passes, tokens, queries, decode_ms, latency_ms,
                             pass_ms, worker, attempt, created_at, exported_at)
        SELECT id, '\\x{PNG_HEX}'::bytea, 64, 64, 76, 256, 256, 282, 900 + (seq % 400), 9000 + (seq % 4000),
               array_fill(11.5::float8, ARRAY[76]), 'bench-worker', 1, finished_at,
               CASE WHEN seq <= {jobs} - 1000 * 100 / 80 THEN finished_at END
        FROM jobs WHERE state = 'done'
    """)
    psql(db, "VACUUM ANALYZE")
    return time.time() - t0


def timed(args: list[str], env: dict, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        t = time.time()
        subprocess.run(args, env=env, check=True, capture_output=True)
        runs.append(time.time() - t)
    return statistics.median(runs)


def fetch(url: str, repeats: int) -> tuple[float, int]:
    runs, status = [], 0
    for _ in range(repeats):
        t = time.time()
        with urllib.request.urlopen(url, timeout=120) as r:
            r.read()
            status = r.status
        runs.append(time.time() - t)
    return statistics.median(runs), status


def claim_latency(db: str, env: dict, seconds: int, work: str, clients: int) -> tuple[float, float, int]:
    script = os.path.join(work, "claim.sql")
    with open(script, "w") as f:
        f.write(CLAIM_SQL)
    logdir = os.path.join(work, f"pgbench-{clients}")
    os.makedirs(logdir)
    running = lambda: int(psql(db, "SELECT count(*) FROM jobs WHERE state = 'running'"))
    before = running()
    subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
                    "-f", script, "-l",
                    "--log-prefix", os.path.join(logdir, "claim"), db], env=env, check=True, capture_output=True, cwd=logdir)
    latencies = []
    for name in os.listdir(logdir):
        with open(os.path.join(logdir, name)) as f:
            latencies += [int(line.split()[2]) / 1000 for line in f if line.strip()]   # microseconds -> ms
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    return pick(0.5), pick(0.99), len(latencies), running() - before


def sizes(db: str) -> list[tuple[str, str]]:
    rows = psql(db, """
        SELECT c.relname || '|' || pg_size_pretty(pg_total_relation_size(c.oid)) || '|' || pg_size_pretty(pg_indexes_size(c.oid))
        FROM pg_class c WHERE c.relname IN ('jobs', 'results', 'job_events') ORDER BY c.relname""")
    return [tuple(r.split("|")) for r in rows.splitlines()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build", "release"), help="folder of zipar-admin (a release build)")
    ap.add_argument("--jobs", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--claim-seconds", type=int, default=8,
                    help="seconds each claim run lasts (its 140,000 queued jobs must last all runs)")
    ap.add_argument("--claimers", default="1,16", help="concurrent claimer counts to time, one run each, in this order")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database (zipar_store_bench)")
    ap.add_argument("--out", help="also write the report (markdown) here")
    args = ap.parse_args()

    db = "zipar_store_bench"
    env = dict(os.environ, PGDATABASE=db)
    env.pop("DATABASE_URL", None)
    admin = os.path.join(args.bin, "zipar-admin")
    work = tempfile.mkdtemp(prefix="zipar-store-bench-")
    serve = None
    lines = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    try:
        psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        psql("postgres", f"CREATE DATABASE {db}")
        subprocess.run([admin, "migrate"], env=env, check=True, capture_output=True)
        print(f"filling {args.jobs:,} jobs ...", flush=True)
        fill_s = fill(db, args.jobs)
        counts = psql(db, "SELECT state || '=' || count(*) FROM jobs GROUP BY state ORDER BY state").replace("\n", ", ")
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        pg = psql("postgres", "SHOW server_version")
        say(f"Store benchmark: {args.jobs:,} jobs ({counts}), filled in {fill_s:.0f} s; PostgreSQL {pg}, {cpu}, "
            f"{os.cpu_count()} cores; median of {args.repeats} runs; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        say()
        say("| what | time | target |")
        say("|---|---:|---|")
        failed = psql(db, "SELECT id FROM jobs WHERE state = 'failed' LIMIT 1")
        done = psql(db, "SELECT id FROM jobs WHERE state = 'done' ORDER BY seq DESC LIMIT 1")
        cli = [("zipar-admin stats", ["stats", "--json"]), ("zipar-admin jobs", ["jobs", "--json"]),
               ("zipar-admin jobs --state failed", ["jobs", "--state", "failed", "--json"]),
               ("zipar-admin show ID", ["show", done, "--json"]), ("zipar-admin workers", ["workers", "--json"]),
               ("zipar-admin queues", ["queues", "--json"])]
        worst = 0.0
        for name, a in cli:
            t = timed([admin, *a], env, args.repeats)
            worst = max(worst, t)
            say(f"| `{name}` | {t * 1e3:.0f} ms | {'ok' if t < 1 else '**over 1 s**'} |")
        out_dir = os.path.join(work, "export")
        t = time.time()
        exported = json.loads(subprocess.run([admin, "export", "--only-new", "--out", out_dir, "--json"], env=env, check=True,
                                             capture_output=True, text=True).stdout)["exported"]
        t = time.time() - t
        say(f"| `zipar-admin export --only-new`: {exported} new results (PNG + JSON each, written atomically) | "
            f"{t * 1e3:.0f} ms ({t / max(exported, 1) * 1e3:.1f} ms each) | |")
        t = timed([admin, "export", "--only-new", "--out", out_dir, "--json"], env, args.repeats)
        worst = max(worst, t)
        say(f"| `zipar-admin export --only-new` again: nothing new (the scan) | {t * 1e3:.0f} ms | {'ok' if t < 1 else '**over 1 s**'} |")

        port = free_port()
        serve = subprocess.Popen([admin, "serve", "--bind", f"127.0.0.1:{port}"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/healthz", 200)
        pages = ["/queues", "/jobs", "/jobs?state=failed", f"/jobs/{done}", f"/jobs/{failed}", "/gallery", "/workers",
                 "/api/queues", "/api/stats", "/api/jobs", "/api/jobs?state=failed&page=100", "/api/workers", "/metrics"]
        for page in pages:
            t, status = fetch(base + page, args.repeats)
            worst = max(worst, t)
            say(f"| GET `{page.replace(done, 'ID').replace(failed, 'ID')}` ({status}) | {t * 1e3:.0f} ms | {'ok' if t < 1 else '**over 1 s**'} |")
        for clients in (int(c) for c in args.claimers.split(",")):
            p50, p99, n, got = claim_latency(db, env, args.claim_seconds, work, clients)
            dry = "" if got >= n else f"; **the queue ran dry: {n - got:,} claims found no job**"
            say(f"| claim, {clients} concurrent claimer{'s' if clients > 1 else ''} ({n:,} claims in {args.claim_seconds} s, "
                f"{n / args.claim_seconds:,.0f}/s{dry}): p50 / p99 | {p50:.2f} / {p99:.2f} ms | "
                f"{'ok' if p99 < 10 else '**p99 over 10 ms**'} |")
        say()
        say("| table | total size | of it indexes |")
        say("|---|---:|---:|")
        for name, total, idx in sizes(db):
            say(f"| {name} | {total} | {idx} |")
        if args.out:
            with open(args.out, "w") as f:
                f.write("\n".join(lines) + "\n")
    finally:
        if serve and serve.poll() is None:
            serve.terminate()
            serve.wait(timeout=30)
        if not args.keep:
            psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
