#!/usr/bin/env python3
"""The metrics docs/service.md names, and the alert rules it recommends, against live /metrics.

docs/service.md's "Metrics and health" section lists each series with its labels: the worker's, then those
`zipar-admin serve` adds. A real worker (bundled model, one job done, --http) and a real serve are scraped
and parsed with Prometheus' own parser; every documented series must be there with exactly the documented
labels (a histogram's `le` aside), even before the event it counts has happened (a counter that appears only
after the first failure would leave an alert on it silent), and every series an alert expression uses must
be a documented one. Run by scripts/test.sh; `python3 -m pytest tools/test_metrics_docs.py` by hand.
"""
from __future__ import annotations

import os
import re
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tools.live_service import MODEL, free_port, get, psql, run, scratch, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def documented() -> tuple[dict, dict, list[str]]:
    """{name: labels} for the worker's series and for serve's, and the alert rules' expressions."""
    with open(os.path.join(ROOT, "docs", "service.md")) as f:
        text = f.read()
    section = text.split("## Metrics and health", 1)[1].split("\n## ", 1)[0]
    worker_part, serve_part = section.split("`zipar-admin serve` adds", 1)
    series = re.compile(r"`(zipar_[a-z0-9_]+)(?:\{([a-z_,]*)\})?`")

    def names(part: str) -> dict:
        out: dict = {}
        for m in series.finditer(part):      # a later mention without its labels does not erase them
            labels = set(filter(None, (m.group(2) or "").split(",")))
            out[m.group(1)] = out.get(m.group(1), set()) | labels
        return out

    exprs = re.findall(r"^\s*expr:\s*(.+)$", section, flags=re.M)
    return names(worker_part), names(serve_part.split("```", 1)[0]), exprs


def scraped(text: str) -> dict:
    """{family name: label names} as Prometheus parses the exposition (counters lose their _total there)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(k for k in sample.labels if k != "le")
    return out


def present(name: str, scrape: dict) -> set | None:
    for candidate in (name, name + "_bucket", name + "_count"):
        if candidate in scrape:
            return scrape[candidate]
    return None


@pytest.fixture(scope="module")
def scrapes():
    with scratch("metrics_docs") as sc:
        prompts = os.path.join(sc.work, "p.txt")
        with open(prompts, "w") as f:
            f.write("dress seed=1\n")
        run("zipar-submit", "--model", MODEL, "--queue", "m", "--create-queue", prompts, env=sc.env)
        wport, sport = free_port(), free_port()
        sc.start("zipar-worker", "--model", MODEL, "--queue", "m", "--http", f"127.0.0.1:{wport}")
        sc.start("zipar-admin", "serve", "--bind", f"127.0.0.1:{sport}")
        wait_for(f"http://127.0.0.1:{wport}/readyz", 200, seconds=120)
        deadline = time.time() + 300
        while psql(sc.db, "SELECT count(*) FROM jobs WHERE state = 'done'") != "1":
            assert time.time() < deadline, "the worker did not finish its job"
            time.sleep(0.2)
        wait_for(f"http://127.0.0.1:{sport}/healthz", 200)
        yield scraped(get(f"http://127.0.0.1:{wport}/metrics")[1]), scraped(get(f"http://127.0.0.1:{sport}/metrics")[1])


def test_documented_series_exist_with_their_labels(scrapes):
    worker, serve = scrapes
    want_worker, want_serve, _ = documented()
    assert len(want_worker) >= 8 and len(want_serve) >= 2, "the docs' metric list was not found"
    problems = []
    for where, want, got in (("worker", want_worker, worker), ("serve", want_serve, serve)):
        for name, labels in sorted(want.items()):
            have = present(name, got)
            if have is None:
                problems.append(f"{where}: {name} is documented but not on /metrics")
            elif have != labels:
                problems.append(f"{where}: {name} has labels {sorted(have)}, documented {sorted(labels)}")
    assert not problems, "\n".join(problems)


def test_alert_rules_use_documented_series():
    want_worker, want_serve, exprs = documented()
    assert len(exprs) >= 3, "the docs' alert rules were not found"
    known = set(want_worker) | set(want_serve)
    used = {name for e in exprs for name in re.findall(r"zipar_[a-z0-9_]+", e)}
    assert used <= known, f"alert rules use undocumented series: {sorted(used - known)}"
