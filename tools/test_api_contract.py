#!/usr/bin/env python3
"""The HTTP API against its description, docs/openapi.yaml, so the two cannot drift apart.

1. The spec is a valid OpenAPI document (openapi-spec-validator).
2. Every route the server registers under /api (and /metrics, /healthz, /readyz) is in the spec: read from
   the generated Sources/HTTPAPI/Generated/Server.swift (the /api operations, generated from the spec by
   scripts/gen-openapi.sh, whose recorded SHA-256 of the spec must be the spec's) and from the hand-written
   `router.get(...)` / `router.post(...)` calls in Sources/.
3. Every operation in the spec is called on a live `zipar-admin serve` (real PostgreSQL, jobs done by a real
   worker, a batch posted through the API): the status must be one the spec lists for it (never a 404 for
   a route, never a 5xx), and a JSON (or JSON lines) body must match the schema the spec gives that status.

Needs PG* (scripts/pg-env.sh) and built executables (ZIPAR_BIN, default .build/debug). scripts/test.sh runs
it; `python3 -m pytest tools/test_api_contract.py` by hand.
"""
from __future__ import annotations

import copy
import glob
import hashlib
import json
import os
import re
import urllib.error
import urllib.request

import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec

from tools.live_service import MODEL, free_port, psql, run, scratch, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC_PATH = os.path.join(ROOT, "docs", "openapi.yaml")
GENERATED = os.path.join(ROOT, "Sources", "HTTPAPI", "Generated")
ADMIN = "contract-admin-token-0123456789abcdef"
SUBMIT = "contract-submit-token-0123456789abcd"


def load_spec() -> dict:
    with open(SPEC_PATH) as f:
        return yaml.safe_load(f)


def resolve(node, spec: dict):
    """The schema with every local $ref replaced by what it points at."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(copy.deepcopy(target), spec)
        return {k: resolve(v, spec) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, spec) for v in node]
    return node


def request(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
            read_limit: int | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            data = r.read(read_limit) if read_limit else r.read()
            return r.status, dict(r.headers), data
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_spec_is_valid_openapi():
    validate_spec(load_spec())


def test_generated_code_is_from_this_spec():
    with open(SPEC_PATH, "rb") as f:
        spec_sha = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(GENERATED, "openapi.sha256")) as f:
        recorded = f.read().strip()
    assert recorded == spec_sha, "docs/openapi.yaml changed since Sources/HTTPAPI/Generated was generated: run scripts/gen-openapi.sh"


def generated_routes() -> set[tuple[str, str]]:
    """(method, path) of every operation the generated server registers (its `registerHandlers`)."""
    with open(os.path.join(GENERATED, "Server.swift")) as f:
        text = f.read()
    found = re.findall(r'method: \.(\w+),\s*path: server\.apiPathComponentsWithServerPrefix\("([^"]+)"\)', text)
    assert found, "no route found in Sources/HTTPAPI/Generated/Server.swift: has the generator's output changed shape?"
    return set(found)


def registered_routes() -> set[tuple[str, str]]:
    """(method, path) of every generated /api operation and of every router.get/post/... call in Sources/
    under /api and the health endpoints; a `\\(verb)` interpolation (routes registered in a loop over verbs)
    becomes a `{verb}` wildcard."""
    routes = generated_routes()
    call = re.compile(r'router\.(get|post|put|delete|patch|head)\("([^"]+)"')
    for path in glob.glob(os.path.join(ROOT, "Sources", "**", "*.swift"), recursive=True):
        with open(path) as f:
            for method, route in call.findall(f.read()):
                route = re.sub(r"\\\(\w+\)", "{verb}", route)
                if route.startswith("/api/") or route in ("/metrics", "/healthz", "/readyz"):
                    routes.add((method, route))
    return routes


def test_every_registered_route_is_in_the_spec():
    spec = load_spec()
    documented = {(m, p) for p, ops in spec["paths"].items() for m in ops if m in ("get", "post", "put", "delete", "patch", "head")}
    missing = []
    for method, route in sorted(registered_routes()):
        pattern = re.compile("^" + re.sub(r"\\\{verb\\\}", r"[a-z-]+", re.escape(route)) + "$")
        if not any(m == method and pattern.match(p) for m, p in documented):
            missing.append(f"{method.upper()} {route}")
    assert not missing, f"routes the server registers but docs/openapi.yaml does not describe: {missing}"


@pytest.fixture(scope="module")
def service():
    """A scratch database with jobs done by a real worker and `zipar-admin serve` with both tokens and a model."""
    with scratch("contract") as sc:
        prompts = os.path.join(sc.work, "p.txt")
        with open(prompts, "w") as f:
            f.write("dress label=c-dress seed=1 policy=zipar:4\nbag label=c-bag seed=2\n")
        run("zipar-submit", "--model", MODEL, "--queue", "contract", "--create-queue", prompts, env=sc.env)
        run("zipar-worker", "--model", MODEL, "--queue", "contract", "--drain", env=sc.env, timeout=600)
        tokens = {}
        for name, value in (("admin", ADMIN), ("submit", SUBMIT)):
            tokens[name] = os.path.join(sc.work, name)
            with open(tokens[name], "w") as f:
                f.write(value + "\n")
            os.chmod(tokens[name], 0o600)
        port = free_port()
        sc.start("zipar-admin", "serve", "--bind", f"127.0.0.1:{port}", "--admin-token-file", tokens["admin"],
                 "--submit-token-file", tokens["submit"], "--model", MODEL, log="serve.log")
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/healthz", 200)
        yield {"base": base, "db": sc.db, "work": sc.work}


def check(spec: dict, path: str, method: str, status: int, headers: dict, body: bytes) -> list[str]:
    """What disagrees with the spec: a status it does not list for the operation, a content type it does not
    list for that status, a JSON (lines) body that does not match the schema."""
    where = f"{method.upper()} {path} {status}"
    responses = spec["paths"][path][method]["responses"]
    if str(status) not in responses and "default" not in responses:
        return [f"{where}: status not documented ({sorted(responses)}); body {body[:200]!r}"]
    content = responses.get(str(status), responses.get("default", {})).get("content", {})
    ctype = headers.get("Content-Type", headers.get("content-type", "")).split(";")[0].strip()
    if ctype not in ("application/json", "application/jsonl") or not body.strip():
        return []
    media = content.get(ctype)
    if media is None:
        return [f"{where}: answered {ctype}, documented {sorted(content)}; body {body[:200]!r}"]
    schema = resolve(media.get("schema", {}), spec)
    documents = [json.loads(body)] if ctype == "application/json" else \
        [json.loads(line) for line in body.decode().splitlines() if line.strip()]
    problems = []
    for doc in documents:
        for e in sorted(OAS30Validator(schema).iter_errors(doc), key=lambda e: list(e.path))[:3]:
            problems.append(f"{where}: {e.message} at {list(e.path)}")
    return problems


def test_every_operation_answers_as_documented(service):
    spec = load_spec()
    base = service["base"]
    admin = {"Authorization": f"Bearer {ADMIN}"}
    submit = {"Authorization": f"Bearer {SUBMIT}", "Content-Type": "application/jsonl"}

    # A batch through the API first, so the batch endpoints have one to show.
    lines = '{"custom_id": "a", "class": "dress", "seed": 4}\n{"custom_id": "b", "class": "bag", "seed": 5}\n'
    status, headers, body = request("POST", base + "/api/batches?queue=contract", lines.encode(), submit)
    problems = check(spec, "/api/batches", "post", status, headers, body)
    assert status == 201, body
    batch = json.loads(body)["id"]

    done = psql(service["db"], "SELECT id FROM jobs WHERE state = 'done' ORDER BY created_at LIMIT 1")
    queued = psql(service["db"], "SELECT id FROM jobs WHERE state = 'queued' ORDER BY created_at LIMIT 1")
    values = {"id": done, "name": "contract", "action": "cancel"}
    calls = []
    for path, ops in spec["paths"].items():
        for method in ops:
            if method not in ("get", "post"):
                continue
            ids = values
            if "/api/batches/{id}" in path:
                ids = dict(values, id=batch)
            elif path.endswith("/cancel") or path.endswith("/retry"):
                ids = dict(values, id=queued)
            calls.append((path, method, re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)))
    called = set()
    for path, method, url in calls:
        if (path, method) == ("/api/batches", "post"):
            called.add((path, method))
            continue
        headers = dict(admin) if method == "post" else {}
        if path == "/api/batches/{id}/cancel":
            headers = {"Authorization": f"Bearer {SUBMIT}"}
        limit = None
        if path == "/api/events":
            url += "?after=0"
            limit = 1                # a stream never ends: its status and headers are what is checked
        if path == "/api/bulk/{action}":
            # A queue with no jobs: the count is 0, and the action, confirming it, changes nothing.
            url += "?queue=contract-empty" + ("&expected=0" if method == "post" else "")
        status, resp_headers, body = request(method.upper(), base + url, b"" if method == "post" else None, headers,
                                             read_limit=limit)
        if path == "/api/events":
            body = b""
        problems += check(spec, path, method, status, resp_headers, body)
        if status >= 500:
            problems.append(f"{method.upper()} {url}: {status}")
        called.add((path, method))
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops if m in ("get", "post")}
    assert called == documented
    assert not problems, "\n".join(problems)


def test_bad_requests_get_documented_errors(service):
    """Malformed input is answered with a documented 4xx, never a 5xx or a route miss."""
    spec = load_spec()
    base = service["base"]
    submit = {"Authorization": f"Bearer {SUBMIT}", "Content-Type": "application/jsonl"}
    cases = [
        ("/api/batches", "post", "/api/batches?queue=contract", b'{"custom_id": "x", "class": "dress", "policy": "zipar:99"}\n', submit),
        ("/api/batches", "post", "/api/batches?queue=contract", b"not json\n", submit),
        ("/api/batches", "post", "/api/batches?queue=contract", b'{"custom_id": "x", "clas": "dress"}\n', submit),
        ("/api/batches", "post", "/api/batches", b'{"custom_id": "x", "class": "dress"}\n', {"Content-Type": "application/jsonl"}),
        ("/api/jobs", "get", "/api/jobs?state=sleeping", None, {}),
        ("/api/jobs/{id}", "get", "/api/jobs/00000000-0000-0000-0000-000000000000", None, {}),
        ("/api/batches/{id}", "get", "/api/batches/00000000-0000-0000-0000-000000000000", None, {}),
        ("/api/events", "get", "/api/events?after=-3", None, {}),
        ("/api/jobs/{id}/retry", "post", "/api/jobs/00000000-0000-0000-0000-000000000000/retry", b"", {}),
        ("/api/bulk/{action}", "get", "/api/bulk/explode", None, {}),
        ("/api/bulk/{action}", "get", "/api/bulk/cancel?since=forever", None, {}),
        ("/api/bulk/{action}", "post", "/api/bulk/cancel?queue=contract&expected=0", b"", {}),
        ("/api/bulk/{action}", "post", "/api/bulk/cancel?queue=contract", b"", {"Authorization": f"Bearer {ADMIN}"}),
        ("/api/bulk/{action}", "post", "/api/bulk/delete?queue=contract&expected=999999", b"", {"Authorization": f"Bearer {ADMIN}"}),
    ]
    problems = []
    for path, method, url, body, headers in cases:
        status, resp_headers, data = request(method.upper(), base + url, body, headers)
        if not 400 <= status < 500:
            problems.append(f"{method.upper()} {url}: {status} {data[:200]!r}")
        problems += check(spec, path, method, status, resp_headers, data)
    assert not problems, "\n".join(problems)
