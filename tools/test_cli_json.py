#!/usr/bin/env python3
"""Every `--json` output of zipar-admin and zipar-submit against its schema in docs/cli-json.yaml.

A scratch database on a real PostgreSQL (PG* in the environment), the built executables (ZIPAR_BIN, default
.build/debug), the bundled model and a real worker: each command runs once the way an operator would, and its
stdout must be one JSON document matching the command's schema; failures print the `error` document and exit
non-zero. Run by scripts/test.sh; `python3 -m pytest tools/test_cli_json.py` by hand.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from tools.test_api_contract import resolve
from tools.live_service import BIN, MODEL, scratch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def schemas() -> tuple[dict, dict]:
    with open(os.path.join(ROOT, "docs", "cli-json.yaml")) as f:
        cli = yaml.safe_load(f)
    with open(os.path.join(ROOT, "docs", "openapi.yaml")) as f:
        api = yaml.safe_load(f)
    return cli, api


def schema_for(name: str) -> dict:
    """The command's schema with its refs inlined: `#/...` into cli-json.yaml, `openapi.yaml#/...` into the API spec."""
    cli, api = schemas()

    def inline(node, doc):
        if isinstance(node, dict):
            if "$ref" in node:
                file, _, pointer = node["$ref"].partition("#")
                if file == "openapi.yaml":       # the API's types, whose own refs are local to the API spec
                    return resolve({"$ref": "#" + pointer}, api)
                target = doc
                for part in pointer.lstrip("/").split("/"):
                    target = target[part]
                return inline(target, doc)
            return {k: inline(v, doc) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v, doc) for v in node]
        return node

    return inline(cli["commands"][name], cli)


def validate(name: str, out: str) -> dict | list:
    doc = json.loads(out)
    errors = sorted(OAS30Validator(schema_for(name)).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, f"{name} --json: {errors[0].message} at {list(errors[0].path)}\n{out[:500]}"
    return doc


@pytest.fixture(scope="module")
def env():
    with scratch("cli_json", migrate=False) as sc:
        yield {"env": sc.env, "work": sc.work, "db": sc.db}


def cli(ctx, *args, ok=True) -> subprocess.CompletedProcess:
    p = subprocess.run([os.path.join(BIN, args[0]), *args[1:], "--json"], env=ctx["env"], capture_output=True, text=True,
                       timeout=600)
    if ok:
        assert p.returncode == 0, f"{args}: exit {p.returncode}\n{p.stderr[-800:]}"
    return p


def test_every_command_prints_its_schema(env):
    work = env["work"]
    validate("zipar-admin migrate", cli(env, "zipar-admin", "migrate").stdout)
    prompts = os.path.join(work, "p.txt")
    with open(prompts, "w") as f:
        f.write("dress label=j-dress seed=1\nbag label=j-bag seed=2 policy=zipar:4\n")
    validate("zipar-submit", cli(env, "zipar-submit", "--model", MODEL, "--queue", "j", "--create-queue", prompts,
                                 "--dry-run").stdout)
    submitted = validate("zipar-submit", cli(env, "zipar-submit", "--model", MODEL, "--queue", "j", "--create-queue",
                                             prompts).stdout)
    assert submitted["inserted"] == 2 and len(submitted["ids"]) == 2
    assert "batch" not in submitted, "a text prompt file forms no batch"
    subprocess.run([os.path.join(BIN, "zipar-worker"), "--model", MODEL, "--queue", "j", "--drain"], env=env["env"],
                   check=True, capture_output=True, timeout=600)
    job = submitted["ids"][0]

    validate("zipar-admin stats", cli(env, "zipar-admin", "stats").stdout)
    validate("zipar-admin queues", cli(env, "zipar-admin", "queues").stdout)
    assert validate("zipar-admin queues create", cli(env, "zipar-admin", "queues", "create", "j2").stdout)["created"] is True
    assert validate("zipar-admin pause", cli(env, "zipar-admin", "pause", "j2").stdout)["paused"] is True
    assert validate("zipar-admin resume", cli(env, "zipar-admin", "resume", "j2").stdout)["paused"] is False
    assert len(validate("zipar-admin jobs", cli(env, "zipar-admin", "jobs", "--queue", "j").stdout)) == 2
    assert validate("zipar-admin show", cli(env, "zipar-admin", "show", job).stdout)["state"] == "done"
    # A job no worker serves: cancelled, then back in its queue.
    extra = os.path.join(work, "extra.txt")
    with open(extra, "w") as f:
        f.write("coat label=j-coat seed=3\n")
    waiting = validate("zipar-submit", cli(env, "zipar-submit", "--model", MODEL, "--queue", "j2", extra).stdout)["ids"][0]
    assert validate("zipar-admin cancel", cli(env, "zipar-admin", "cancel", waiting).stdout)["changed"] == 1
    # A JSONL file forms a batch, as POST /api/batches makes of it: the report names it.
    lines = os.path.join(work, "b.jsonl")
    with open(lines, "w") as f:
        f.write('{"custom_id": "b-1", "class": "coat", "seed": 4}\n')
    batched = validate("zipar-submit", cli(env, "zipar-submit", "--model", MODEL, "--queue", "j", "--format", "jsonl",
                                           lines).stdout)
    assert batched["inserted"] == 1 and len(batched["batch"]) == 36
    assert validate("zipar-admin retry", cli(env, "zipar-admin", "retry", waiting).stdout)["changed"] == 1
    none_failed = cli(env, "zipar-admin", "retry", "--failed", ok=False)     # nothing failed: exit 1, still the document
    assert none_failed.returncode == 1 and validate("zipar-admin retry", none_failed.stdout)["changed"] == 0
    # Nothing to change (a done job, an unknown id): exit 1, the same document saying why for each id.
    for verb in ("retry", "cancel"):
        p = cli(env, "zipar-admin", verb, job, "00000000-0000-0000-0000-000000000000", ok=False)
        assert p.returncode == 1, p.stderr
        outcome = validate(f"zipar-admin {verb}", p.stdout)
        assert outcome["changed"] == 0 and outcome["unknown"] == 1
    exported = validate("zipar-admin export", cli(env, "zipar-admin", "export", "--out", os.path.join(work, "out")).stdout)
    assert exported["exported"] == 2
    validate("zipar-admin workers", cli(env, "zipar-admin", "workers").stdout)
    dry = validate("zipar-admin purge", cli(env, "zipar-admin", "purge", "--older-than", "0s", "--dry-run").stdout)
    assert dry["dryRun"] is True and "purged" not in dry
    done = validate("zipar-admin purge", cli(env, "zipar-admin", "purge", "--older-than", "0s").stdout)
    assert done["dryRun"] is False and "wouldPurge" not in done
    assert validate("zipar-admin queues delete", cli(env, "zipar-admin", "queues", "delete", "j2", "--with-jobs").stdout)["deletedJobs"] == 1


def test_failures_print_the_error_document(env):
    cli(env, "zipar-admin", "migrate")
    prompts = os.path.join(env["work"], "bad.txt")
    with open(prompts, "w") as f:
        f.write("dress policy=zipar:99\n")
    cases = [
        ("zipar-admin", "show", "00000000-0000-0000-0000-000000000000"),
        ("zipar-admin", "jobs", "--state", "sleeping"),
        ("zipar-admin", "pause", "no-such-queue"),
        ("zipar-submit", "--model", MODEL, "--queue", "no-such-queue", prompts),
        ("zipar-submit", "--model", MODEL, "--queue", "j", "--create-queue", prompts),
    ]
    for args in cases:
        p = cli(env, *args, ok=False)
        assert p.returncode != 0, f"{args} succeeded"
        assert p.stderr.strip(), f"{args}: nothing on stderr"
        validate("error", p.stdout)
