#!/usr/bin/env bash
# Soak test: real zipar-worker processes against a real PostgreSQL, with random SIGKILLs of workers,
# one PostgreSQL outage longer than the lease (stop, wait, start) during which one worker gets SIGTERM
# (it must exit within grace + 2 s with the database gone), and one zombie (a worker SIGSTOPped past
# its lease, then SIGCONTed). The mix: every policy (ntp, zipar, official, adaptive, sjd, zipar-sjd),
# CFG on a third of the jobs, a label per job, and text-prompt jobs for the bundled text model beside the
# class model. Passes when every job ends done with exactly one result, no job ran twice because of the
# outage (the only duplicated executions allowed are the zombie's and those of killed workers), the
# SIGTERM was bounded, and a sample of results (one per policy) is byte for byte what `zipar generate
# --batch 1` makes from the same parameters: an image does not depend on its batch or its restarts.
#
#   scripts/soak.sh [--jobs 200] [--workers 4] [--kill-every 3] [--model DIR] [--text-model DIR] [--simulate] [--bin DIR] [--timeout 600]
#
# Uses the private cluster of scripts/pg-start.sh (started if needed, left running) and a scratch
# database zipar_soak (recreated). Binaries from --bin (default .build/release, else .build/debug).
# --simulate fakes decoding (--simulate-pass-ms) to test the job store alone, quickly.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

jobs=200; workers=4; kill_every=3; model=""; text_model=""; simulate=""; bin=""; timeout=600; batch=8
while [[ $# -gt 0 ]]; do
    case "$1" in
        --jobs) jobs="$2"; shift 2;;
        --workers) workers="$2"; shift 2;;
        --kill-every) kill_every="$2"; shift 2;;
        --model) model="$2"; shift 2;;
        --text-model) text_model="$2"; shift 2;;
        --simulate) simulate="--simulate-pass-ms 3"; shift;;
        --bin) bin="$2"; shift 2;;
        --timeout) timeout="$2"; shift 2;;
        --batch) batch="$2"; shift 2;;
        -h|--help) sed -n '2,17p' "$0"; exit 0;;
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
if [[ -z "$text_model" && -z "$simulate" && -f models/fashion-text-16/model.safetensors ]]; then text_model=models/fashion-text-16; fi

eval "$(scripts/pg-start.sh)"
export PGDATABASE=zipar_soak
psql_() { psql -X -q -v ON_ERROR_STOP=1 -tA "$@"; }
psql_ -d postgres -c "DROP DATABASE IF EXISTS zipar_soak WITH (FORCE)" -c "CREATE DATABASE zipar_soak" >/dev/null
"$bin/zipar-admin" migrate >/dev/null

logdir="$(mktemp -d /tmp/zipar-soak.XXXXXX)"
echo "soak: $jobs jobs, $workers workers, model $model${simulate:+ (simulated decoding)}, logs in $logdir" >&2

# Prompt files cycling classes, every policy, CFG on every third job, one label per job; a fifth of the
# jobs are text prompts when the text model is there (every policy runs on its end-of-row layout too).
policies=(ntp zipar:4 zipar:8 official:8 adaptive:4 sjd:8 zipar-sjd:4,4)
text_policies=(ntp zipar:4 official:8 adaptive:4 sjd:8 zipar-sjd:4,4)
text_prompts_=("a dark ankle boot" "a light summer dress" "a striped shirt" "a leather bag")
prompts="$logdir/prompts.txt"; text_file="$logdir/text-prompts.txt"
: > "$prompts"; : > "$text_file"
for ((i = 0; i < jobs; i++)); do
    cfg=""; (( i % 3 == 0 )) && cfg=" cfg=3"
    if [[ -n "$text_model" ]] && (( i % 5 == 4 )); then
        echo "prompt=\"${text_prompts_[$((i % 4))]}\" policy=${text_policies[$((i % ${#text_policies[@]}))]} seed=$i$cfg label=soak-$i" >> "$text_file"
    else
        echo "$((i % 10)) policy=${policies[$((i % 7))]} seed=$i$cfg label=soak-$i" >> "$prompts"
    fi
done
"$bin/zipar-submit" --model "$model" --queue soak --create-queue --max-attempts 100 "$prompts" >/dev/null
model_args=(--model "$model")
if [[ -s "$text_file" ]]; then
    "$bin/zipar-submit" --model "$text_model" --queue soak --max-attempts 100 "$text_file" >/dev/null
    model_args+=(--model "$text_model")
fi

# Several workers share few cores: one kernel thread each (also sidesteps thread-pool hangs).
export ZK_THREADS="${ZK_THREADS:-1}"
declare -A pids
declare -A logs
lease=3
grace=10    # SIGTERM grace of every worker (set before the first one starts: the script runs with set -u)
start_worker() {
    local n="$1" id="soak-$n-$RANDOM"
    logs[$n]="$logdir/worker-$id.log"          # one log per process: the zombie's is told apart
    "$bin/zipar-worker" "${model_args[@]}" --queue soak --batch "$batch" --lease-seconds "$lease" --poll-seconds 0.5 \
        --grace-seconds "$grace" --worker-id "$id" --drain $simulate >>"${logs[$n]}" 2>&1 &
    pids[$n]=$!
}
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start=$(date +%s)
for ((n = 0; n < workers; n++)); do start_worker "$n"; done

kills=0; restarts=0; zombies=0; zombie_log=""; last_kill=$((start - kill_every))   # the first kill comes at once
term_seconds="-"; term_ok=1
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
        echo "soak: PostgreSQL down for $((lease + 2)) s or more ($left left); SIGTERM to one worker meanwhile" >&2
        scripts/pg-stop.sh >/dev/null 2>&1
        down_at=$(date +%s)
        # SIGTERM with the database gone: the worker must exit within grace + 2 s (it used to take 66 s).
        n=$((RANDOM % workers)); t0=$(date +%s%N)
        kill -TERM "${pids[$n]}" 2>/dev/null || true
        while kill -0 "${pids[$n]}" 2>/dev/null && (( ($(date +%s%N) - t0) / 1000000000 < grace + 10 )); do sleep 0.2; done
        term_seconds=$(awk -v ns="$(( $(date +%s%N) - t0 ))" 'BEGIN { printf "%.1f", ns / 1e9 }')
        if kill -0 "${pids[$n]}" 2>/dev/null || awk -v s="$term_seconds" -v b="$((grace + 3))" 'BEGIN { exit !(s > b) }'; then
            term_ok=0; echo "soak: SIGTERM during the outage took ${term_seconds}s (bound $((grace + 2))s)" >&2
        fi
        wait "${pids[$n]}" 2>/dev/null || true
        sleep $(( lease + 2 - ($(date +%s) - down_at) > 0 ? lease + 2 - ($(date +%s) - down_at) : 0 ))
        scripts/pg-start.sh >/dev/null 2>&1
        start_worker "$n"
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
# Batch independence: one finished job per policy (and one text job), decoded again alone by `zipar
# generate --batch 1` from its stored parameters, must give the same PNG bytes.
differ=0; checked=0
if [[ -z "$simulate" && -x "$bin/zipar" ]]; then
    gen="$logdir/solo"; mkdir -p "$gen"
    while IFS='|' read -r id m cls prompt policy seed cfg; do
        [[ -z "$id" ]] && continue
        out="$gen/$id"; mkdir -p "$out"
        if [[ -n "$prompt" ]]; then cond=(--prompt "$prompt"); else cond=(--class "$cls"); fi
        dir="$model"; [[ "$m" != "$(basename "$model")" && -n "$text_model" ]] && dir="$text_model"
        if ! ZK_THREADS=1 "$bin/zipar" generate --model "$dir" "${cond[@]}" --policy "$policy" --seed "$seed" --cfg "$cfg" \
                --count 1 --batch 1 --out "$out" >/dev/null 2>"$out/err"; then
            echo "soak: zipar generate failed for job $id: $(tail -1 "$out/err")" >&2; differ=$((differ + 1)); continue
        fi
        psql_ -c "SELECT encode(png, 'hex') FROM results WHERE job_id = '$id'" \
            | python3 -c 'import sys, binascii; sys.stdout.buffer.write(binascii.unhexlify(sys.stdin.read().strip()))' > "$out/service.png"
        checked=$((checked + 1))
        if ! cmp -s "$out/service.png" "$(ls "$out"/*.png | grep -v service.png | head -1)"; then
            differ=$((differ + 1)); echo "soak: job $id ($policy seed $seed cfg $cfg) differs from its solo decode" >&2
        fi
    done < <(psql_ -F '|' -c "
        SELECT DISTINCT ON (j.policy, j.model) j.id, j.model, j.class_label, coalesce(j.text_prompt, ''), j.policy, j.seed, j.cfg_scale
        FROM jobs j JOIN results r ON r.job_id = j.id ORDER BY j.policy, j.model, j.seq")
fi

echo "soak: jobs $total  done $done_  failed $failed  results $results  kills $kills  pg_outages $restarts  zombies $zombies  duplicates $dups  lost $lost  results_for_unfinished $extra  rescued $rescued  duplicated_executions $dup_exec (zombie $zombie_dup)  sigterm_in_outage ${term_seconds}s  solo_checked $checked  solo_differ $differ  wall ${wall}s"
"$bin/zipar-admin" stats | sed 's/^/soak: /'
if [[ "$total" == "$jobs" && "$done_" == "$jobs" && "$results" == "$jobs" && "$dups" == "0" && "$lost" == "0" && "$extra" == "0" && "$dup_exec" == "0" \
      && "$term_ok" == "1" && "$differ" == "0" ]]; then
    echo "soak: PASS"
else
    echo "soak: FAIL (logs in $logdir)"; exit 1
fi
