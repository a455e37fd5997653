#!/usr/bin/env bash
# Soak test: real zipar-worker processes against a real PostgreSQL, with random SIGKILLs of workers,
# one PostgreSQL outage longer than the lease (stop, wait, start) and one zombie (a worker SIGSTOPped past
# its lease, then SIGCONTed). Passes when every job ends done with exactly one result, and no job ran
# twice because of the outage: the only duplicated executions allowed are the zombie's (its late
# results are refused) and those of killed workers (they die with their work).
#
#   scripts/soak.sh [--jobs 200] [--workers 4] [--kill-every 3] [--model DIR] [--simulate] [--bin DIR] [--timeout 600]
#
# Uses the private cluster of scripts/pg-start.sh (started if needed, left running) and a scratch
# database zipar_soak (recreated). Binaries from --bin (default .build/release, else .build/debug).
# --simulate fakes decoding (--simulate-pass-ms) to test the job store alone, quickly.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

jobs=200; workers=4; kill_every=3; model=""; simulate=""; bin=""; timeout=600; batch=8
while [[ $# -gt 0 ]]; do
    case "$1" in
        --jobs) jobs="$2"; shift 2;;
        --workers) workers="$2"; shift 2;;
        --kill-every) kill_every="$2"; shift 2;;
        --model) model="$2"; shift 2;;
        --simulate) simulate="--simulate-pass-ms 3"; shift;;
        --bin) bin="$2"; shift 2;;
        --timeout) timeout="$2"; shift 2;;
        --batch) batch="$2"; shift 2;;
        -h|--help) sed -n '2,12p' "$0"; exit 0;;
        *) echo "soak: unknown argument $1" >&2; exit 1;;
    esac
done
if [[ -z "$bin" ]]; then
    if [[ -x .build/release/zipar-worker ]]; then bin=.build/release; else bin=.build/debug; fi
fi
for b in zipar-worker zipar-submit zipar-admin; do
    [[ -x "$bin/$b" ]] || { echo "soak: $bin/$b not built (swift build -c release)" >&2; exit 1; }
done
if [[ -z "$model" ]]; then
    if [[ -f models/fashion-16/gpt.safetensors ]]; then model=models/fashion-16; else model=Tests/Fixtures/tiny-gqa24; fi
fi

eval "$(scripts/pg-start.sh)"
export PGDATABASE=zipar_soak
psql_() { psql -X -q -v ON_ERROR_STOP=1 -tA "$@"; }
psql_ -d postgres -c "DROP DATABASE IF EXISTS zipar_soak WITH (FORCE)" -c "CREATE DATABASE zipar_soak" >/dev/null
"$bin/zipar-admin" migrate >/dev/null

logdir="$(mktemp -d /tmp/zipar-soak.XXXXXX)"
echo "soak: $jobs jobs, $workers workers, model $model${simulate:+ (simulated decoding)}, logs in $logdir" >&2

# A prompt file of $jobs lines cycling classes and policies.
policies=(ntp zipar:4 zipar:8 adaptive:4)
prompts="$logdir/prompts.txt"
for ((i = 0; i < jobs; i++)); do echo "$((i % 10)) policy=${policies[$((i % 4))]} seed=$i"; done > "$prompts"
"$bin/zipar-submit" --model "$model" --queue soak --create-queue --max-attempts 100 "$prompts" >/dev/null

# Several workers share few cores: one kernel thread each (also sidesteps thread-pool hangs).
export ZK_THREADS="${ZK_THREADS:-1}"
declare -A pids
declare -A logs
lease=3
start_worker() {
    local n="$1" id="soak-$n-$RANDOM"
    logs[$n]="$logdir/worker-$id.log"          # one log per process: the zombie's is told apart
    "$bin/zipar-worker" --model "$model" --queue soak --batch "$batch" --lease-seconds "$lease" --poll-seconds 0.5 \
        --grace-seconds 10 --worker-id "$id" --drain $simulate >>"${logs[$n]}" 2>&1 &
    pids[$n]=$!
}
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start=$(date +%s)
for ((n = 0; n < workers; n++)); do start_worker "$n"; done

kills=0; restarts=0; zombies=0; zombie_log=""; last_kill=$((start - kill_every))   # the first kill comes at once
# Jobs not finished yet (a failed job is finished: the run ends and reports it).
remaining() { psql_ -c "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')" 2>/dev/null || echo "?"; }
while true; do
    sleep 1
    now=$(date +%s)
    left="$(remaining)"
    [[ "$left" == "0" ]] && break
    if (( now - start > timeout )); then echo "soak: timeout with $left jobs left" >&2; break; fi
    # One PostgreSQL outage longer than the lease, once about a third of the jobs are done: every
    # lease runs out meanwhile, yet no live worker's job may be taken over after the restart.
    if (( restarts == 0 )) && [[ "$left" != "?" ]] && (( left < jobs * 2 / 3 )); then
        echo "soak: PostgreSQL down for $((lease + 2)) s ($left left)" >&2
        scripts/pg-stop.sh >/dev/null 2>&1; sleep $((lease + 2)); scripts/pg-start.sh >/dev/null 2>&1
        restarts=1
    fi
    # One zombie, at about half: a worker frozen past its lease (its jobs are rescued), then thawed.
    if (( zombies == 0 )) && [[ "$left" != "?" ]] && (( left < jobs / 2 )); then
        n=$((RANDOM % workers))
        zombie_log="${logs[$n]}"
        echo "soak: SIGSTOP worker $n for $((lease * 2)) s ($left left)" >&2
        kill -STOP "${pids[$n]}" 2>/dev/null || true; sleep $((lease * 2)); kill -CONT "${pids[$n]}" 2>/dev/null || true
        zombies=1; last_kill=$(date +%s)
    fi
    # Every few seconds: SIGKILL a random worker mid-job and start a replacement.
    if (( now - last_kill >= kill_every )) && [[ "$left" != "?" ]] && (( left > 0 )); then
        n=$((RANDOM % workers))
        if kill -KILL "${pids[$n]}" 2>/dev/null; then kills=$((kills + 1)); echo "soak: SIGKILL worker $n ($left left)" >&2; fi
        wait "${pids[$n]}" 2>/dev/null || true
        start_worker "$n"
        last_kill=$now
    fi
    # Drained workers exit; restart them while work remains (a rescued job may reappear).
    for ((n = 0; n < workers; n++)); do
        if ! kill -0 "${pids[$n]}" 2>/dev/null; then wait "${pids[$n]}" 2>/dev/null || true; start_worker "$n"; fi
    done
done
wall=$(( $(date +%s) - start ))
cleanup; trap - EXIT; wait 2>/dev/null || true

read -r total done_ failed results dups lost extra <<<"$(psql_ -F ' ' -c "
    SELECT (SELECT count(*) FROM jobs),
           (SELECT count(*) FROM jobs WHERE state = 'done'),
           (SELECT count(*) FROM jobs WHERE state = 'failed'),
           (SELECT count(*) FROM results),
           (SELECT count(*) - count(DISTINCT job_id) FROM results),
           (SELECT count(*) FROM jobs j WHERE NOT EXISTS (SELECT 1 FROM results r WHERE r.job_id = j.id)),
           (SELECT count(*) FROM results r JOIN jobs j ON j.id = r.job_id WHERE j.state <> 'done')")"
lease_lost=$(cat "$logdir"/worker-*.log | grep -c "lease lost" || true)
rescued=$(cat "$logdir"/worker-*.log | grep -c "rescued expired lease" || true)
# Duplicated executions: a live worker's job taken over by another (it notices as "lease lost").
# Killed workers say nothing more; the zombie's are expected; any other one is the outage's fault.
zombie_dup=0
[[ -n "$zombie_log" ]] && zombie_dup=$(grep -c "lease lost" "$zombie_log" || true)
dup_exec=$((lease_lost - zombie_dup))
echo "soak: jobs $total  done $done_  failed $failed  results $results  kills $kills  pg_outages $restarts  zombies $zombies  duplicates $dups  lost $lost  results_for_unfinished $extra  rescued $rescued  duplicated_executions $dup_exec (zombie $zombie_dup)  wall ${wall}s"
"$bin/zipar-admin" stats | sed 's/^/soak: /'
if [[ "$total" == "$jobs" && "$done_" == "$jobs" && "$results" == "$jobs" && "$dups" == "0" && "$lost" == "0" && "$extra" == "0" && "$dup_exec" == "0" ]]; then
    echo "soak: PASS"
else
    echo "soak: FAIL (logs in $logdir)"; exit 1
fi
