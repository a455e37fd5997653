#!/usr/bin/env python3
"""Browser test of the dashboard and the metrics endpoints, against real processes.

A real PostgreSQL (PG* in the environment, a scratch database made here), the built executables
(ZIPAR_BIN, default .build/debug), the bundled model, a real worker with --http, `zipar-admin serve` with an
admin token, and headless Chromium driven by selenium. Run by scripts/browser-test.sh (which installs
chromium, chromium-driver, selenium and prometheus_client); `pytest tools/test_dashboard.py` by hand.
With ZIPAR_SCREENSHOT_DIR set (docs/images to refresh the documentation's), the console tests save their
screenshots there.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from tools.live_service import BIN, MODEL, free_port, get, psql, run, wait_for  # noqa: F401 (shared helpers)

TOKEN = "test-admin-token-0123456789abcdef"
SCRIPT_QUEUE = "q<script>window.pwnedQueue=1</script>"
SHOTS = os.environ.get("ZIPAR_SCREENSHOT_DIR")


def shot(browser, name: str) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        browser.save_screenshot(os.path.join(SHOTS, name))


@pytest.fixture(scope="module")
def service():
    """A migrated scratch database with jobs done by a real worker, the worker's /metrics, and the dashboard."""
    db = f"zipar_browser_{os.getpid()}"
    psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {db}")
    env = dict(os.environ, PGDATABASE=db)
    env.pop("DATABASE_URL", None)
    work = tempfile.mkdtemp(prefix="zipar-browser-")
    procs = []
    try:
        run("zipar-admin", "migrate", env=env)
        prompts = os.path.join(work, "p.txt")
        with open(prompts, "w") as f:
            f.write("dress label=dress-a seed=1\ncoat label=coat-a seed=2 policy=zipar:4\n"
                    "dress label=dress-b seed=1 policy=zipar:8\nbag label=bag-a seed=3\n")
        run("zipar-submit", "--model", MODEL, "--queue", "demo", "--create-queue", prompts, env=env)

        # The worker: /readyz says 503 while the model loads, 200 once it is loaded and the database answers.
        # It runs without --drain so that /metrics can be read after the last job, then gets SIGTERM.
        wport = free_port()
        worker = subprocess.Popen([os.path.join(BIN, "zipar-worker"), "--model", MODEL, "--queue", "demo",
                                   "--http", f"127.0.0.1:{wport}", "--load-delay-seconds", "3", "--log-format", "json"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "worker.log"), "w"))
        procs.append(worker)
        wait_for(f"http://127.0.0.1:{wport}/healthz", 200)
        early = get(f"http://127.0.0.1:{wport}/readyz")[0]
        wait_for(f"http://127.0.0.1:{wport}/readyz", 200)
        deadline = time.time() + 300
        while psql(db, "SELECT count(*) FROM jobs WHERE state = 'done'") != "4":
            assert time.time() < deadline, "the worker did not finish the 4 jobs"
            time.sleep(0.2)
        metrics = get(f"http://127.0.0.1:{wport}/metrics")[1]
        worker.terminate()
        assert worker.wait(timeout=60) == 0

        # Three jobs that failed, for the bulk retry; one job for a second worker to run while a page watches.
        bulk = os.path.join(work, "bulk.txt")
        with open(bulk, "w") as f:
            f.write("bag label=bulk-1 seed=4\nbag label=bulk-2 seed=5\ncoat label=bulk-3 seed=6\n")
        run("zipar-submit", "--model", MODEL, "--queue", "bulkq", "--create-queue", bulk, env=env)
        psql(db, "UPDATE jobs SET state = 'failed', attempts = 1, finished_at = now(), errors = "
                 "'[{\"attempt\": 1, \"error\": \"synthetic failure\", \"permanent\": true}]' WHERE queue = 'bulkq'")
        live = os.path.join(work, "live.txt")
        with open(live, "w") as f:
            f.write("shirt label=live-1 seed=7\n")
        run("zipar-submit", "--model", MODEL, "--queue", "live", "--create-queue", live, env=env)

        # A prompt with a script in it: the column is free text (text-to-image prompts will be).
        psql(db, "UPDATE jobs SET prompt = '<script>window.pwned=1</script> dress' WHERE label = 'dress-a'")
        psql(db, f"INSERT INTO queues (name) VALUES ('{SCRIPT_QUEUE}')")

        token_file = os.path.join(work, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(token_file, 0o600)
        port = free_port()
        serve = subprocess.Popen([os.path.join(BIN, "zipar-admin"), "serve", "--bind", f"127.0.0.1:{port}",
                                  "--admin-token-file", token_file], env=env,
                                 stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "w"))
        procs.append(serve)
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/healthz", 200)
        ids = {j["label"]: j["id"] for j in json.loads(get(base + "/api/jobs")[1])}
        yield {"base": base, "db": db, "env": env, "ids": ids, "early_ready": early, "worker_metrics": metrics,
               "work": work, "procs": procs}
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
        psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"):
        opts.add_argument(a)
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
    yield driver
    driver.quit()


def test_queues_page_shows_the_counts(service, browser):
    from selenium.webdriver.common.by import By

    browser.get(service["base"] + "/queues")
    # Columns by their header, so a new state column (scheduled) does not shift what is checked.
    headers = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#queues thead th")]
    rows = {r.find_elements(By.TAG_NAME, "td")[0].text: dict(zip(headers, [c.text for c in r.find_elements(By.TAG_NAME, "td")]))
            for r in browser.find_elements(By.CSS_SELECTOR, "#queues tbody tr")}
    assert rows["demo"]["done"] == "4"
    assert rows["demo"]["queued"] == "0"
    assert rows["demo"]["scheduled"] == "0"
    assert "saved" in browser.find_element(By.TAG_NAME, "main").text


def test_job_page_shows_its_image(service, browser):
    from selenium.webdriver.common.by import By

    browser.get(service["base"] + "/jobs/" + service["ids"]["coat-a"])
    img = browser.find_element(By.ID, "image")
    loaded = browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)
    assert loaded and loaded > 0, "the <img> did not load"
    assert "zipar:4" in browser.find_element(By.ID, "detail").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#heatmap div")) == 256


def test_gallery_filters(service, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(service["base"] + "/gallery?queue=demo")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#gallery .tile")) == 4
    box = browser.find_element(By.NAME, "class")
    box.send_keys("dress")
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    WebDriverWait(browser, 10).until(lambda b: "class=dress" in b.current_url)
    tiles = browser.find_elements(By.CSS_SELECTOR, "#gallery .tile")
    assert len(tiles) == 2 and all("dress" in t.text for t in tiles)
    images = browser.find_elements(By.CSS_SELECTOR, "#gallery img")
    assert all(browser.execute_script("return arguments[0].naturalWidth", i) > 0 for i in images)


def sign_in(service, browser, token: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(service["base"] + "/signin")
    form = browser.find_element(By.ID, "signin-form")
    form.find_element(By.NAME, "token").send_keys(token)
    form.find_element(By.TAG_NAME, "button").click()


def test_sign_in_once_then_pause_with_a_confirmation(service, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # A wrong token: an HTML page that says so, no cookie.
    sign_in(service, browser, "wrong-token-wrong-token")
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "signin-error"))
    assert "not the admin token" in browser.find_element(By.ID, "signin-error").text
    assert not browser.get_cookies()
    # Signed out, the pages carry no mutating form; a plain POST is refused with an HTML page.
    browser.get(service["base"] + "/queues")
    assert not browser.find_elements(By.CSS_SELECTOR, "#queues form")
    req = urllib.request.Request(service["base"] + "/queues/demo/pause", method="POST", data=b"")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401 and "Sign in first" in e.value.read().decode()

    sign_in(service, browser, TOKEN)
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "signed-in"))
    cookie = browser.get_cookie("zipar_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "Signed in" in browser.find_element(By.ID, "notice").text
    assert browser.execute_script("return document.cookie") == "", "the session cookie is HttpOnly"

    for row in browser.find_elements(By.CSS_SELECTOR, "#queues tbody tr"):
        if row.find_elements(By.TAG_NAME, "td")[0].text == "demo":
            row.find_element(By.TAG_NAME, "form").find_element(By.TAG_NAME, "button").click()
            break
    WebDriverWait(browser, 10).until(lambda b: "done=paused" in b.current_url)
    assert "Queue paused" in browser.find_element(By.ID, "notice").text
    assert psql(service["db"], "SELECT paused FROM queues WHERE name = 'demo'") == "t"
    # A form posted without the session's CSRF token (as another site would) changes nothing.
    browser.execute_script(
        "var f = document.createElement('form'); f.method = 'post'; f.action = '/queues/demo/resume';"
        "document.body.appendChild(f); f.submit();")
    WebDriverWait(browser, 10).until(lambda b: "/resume" in b.current_url)
    assert "CSRF" in browser.find_element(By.ID, "error").text
    assert psql(service["db"], "SELECT paused FROM queues WHERE name = 'demo'") == "t"
    shot(browser, "dashboard-refused.png")


def test_bulk_retry_of_a_filtered_set_after_its_confirmation(service, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(service["base"] + "/jobs?queue=bulkq&state=failed")
    if not browser.find_elements(By.ID, "signed-in"):
        sign_in(service, browser, TOKEN)
        browser.get(service["base"] + "/jobs?queue=bulkq&state=failed")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")) == 3
    browser.find_element(By.ID, "bulk-retry").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "bulk-count"))
    assert browser.find_element(By.ID, "bulk-count").text.startswith("3 jobs failed or cancelled match")
    shot(browser, "dashboard-bulk-confirm.png")
    assert psql(service["db"], "SELECT count(*) FROM jobs WHERE queue = 'bulkq' AND state = 'failed'") == "3", \
        "the confirmation page changed nothing"
    browser.find_element(By.CSS_SELECTOR, "#bulk-confirm button").click()
    WebDriverWait(browser, 10).until(lambda b: "done=bulk-retry" in b.current_url)
    assert browser.find_element(By.ID, "notice").text == "3 jobs requeued."
    assert psql(service["db"], "SELECT count(*) FROM jobs WHERE queue = 'bulkq' AND state = 'queued'") == "3"


def test_audit_page_lists_the_changes(service, browser):
    from selenium.webdriver.common.by import By

    browser.get(service["base"] + "/audit")
    rows = [[c.text for c in r.find_elements(By.TAG_NAME, "td")] for r in browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
    actions = [r[2] for r in rows]
    assert "pause" in actions and "bulk-retry" in actions, rows
    bulk = rows[actions.index("bulk-retry")]
    assert bulk[1].startswith("admin session ") and bulk[3] == "queue=bulkq state=failed" and bulk[4] == "3"
    shot(browser, "dashboard-audit.png")


def test_charts_are_drawn(service, browser):
    from selenium.webdriver.common.by import By

    browser.get(service["base"] + "/charts")
    for chart in ("chart-throughput", "chart-depth", "chart-latency"):
        svg = browser.find_element(By.ID, chart)
        assert svg.size["width"] > 100 and svg.size["height"] > 50
        assert svg.find_elements(By.CSS_SELECTOR, "polyline, circle"), f"{chart} has no line"
    shot(browser, "dashboard-charts.png")


def test_workers_page_shows_stopped_workers_and_health(service, browser):
    from selenium.webdriver.common.by import By

    browser.get(service["base"] + "/workers")
    states = [r.find_elements(By.TAG_NAME, "td")[1].text for r in browser.find_elements(By.CSS_SELECTOR, "#workers tbody tr")]
    assert states and all(s.startswith("stopped") for s in states), states
    health = [[c.text for c in r.find_elements(By.TAG_NAME, "td")] for r in browser.find_elements(By.CSS_SELECTOR, "#health tbody tr")]
    assert any(h[1] == "fashion-16" and h[2] == "ok" and h[3] == "4" for h in health), health
    shot(browser, "dashboard-workers.png")


def test_a_job_page_follows_its_job_to_done_without_a_reload(service, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(service["base"] + "/jobs/" + service["ids"]["live-1"])
    assert browser.find_element(By.ID, "state").text == "queued"
    browser.execute_script("window.notReloaded = true")
    worker = subprocess.Popen([os.path.join(BIN, "zipar-worker"), "--model", MODEL, "--queue", "live", "--drain"],
                              env=service["env"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    service["procs"].append(worker)
    WebDriverWait(browser, 300, poll_frequency=0.5).until(lambda b: b.find_element(By.ID, "state").text == "done")
    assert browser.execute_script("return window.notReloaded") is True, "the page was reloaded"
    WebDriverWait(browser, 20).until(lambda b: b.execute_script(
        "var i = document.querySelector('#live-image img'); return i && i.complete && i.naturalWidth > 0"))
    assert worker.wait(timeout=120) == 0
    # The queues page's counts follow too.
    browser.get(service["base"] + "/queues")
    shot(browser, "dashboard-queues.png")


def test_script_in_a_prompt_is_inert(service, browser):
    from selenium.webdriver.common.by import By

    browser.get(service["base"] + "/jobs/" + service["ids"]["dress-a"])
    assert "<script>window.pwned=1</script> dress" in browser.find_element(By.ID, "detail").text
    assert browser.execute_script("return typeof window.pwned") == "undefined"
    browser.get(service["base"] + "/queues")
    assert SCRIPT_QUEUE in browser.find_element(By.ID, "queues").text
    assert browser.execute_script("return typeof window.pwnedQueue") == "undefined"


def test_image_routes_take_a_job_id_only(service):
    assert get(service["base"] + "/jobs/..%2F..%2Fetc%2Fpasswd/image.png")[0] in (400, 404)
    assert get(service["base"] + "/jobs/not-a-uuid/image.png")[0] == 400


def test_readyz_is_503_before_the_model_loads(service):
    assert service["early_ready"] == 503


def test_metrics_parse_as_prometheus_text(service):
    from prometheus_client.parser import text_string_to_metric_families

    worker = {f.name: f for f in text_string_to_metric_families(service["worker_metrics"])}
    for name in ("zipar_jobs_done", "zipar_passes", "zipar_query_tokens", "zipar_stage_seconds",
                 "zipar_images_per_second", "zipar_jobs_in_flight"):
        assert name in worker, f"{name} missing from the worker's /metrics: {sorted(worker)}"
    done = sum(s.value for s in worker["zipar_jobs_done"].samples if s.name == "zipar_jobs_done_total")
    assert done == 4
    stages = {s.labels.get("stage") for s in worker["zipar_stage_seconds"].samples}
    assert {"gpt", "vq", "png"} <= stages
    admin = {f.name: f for f in text_string_to_metric_families(get(service["base"] + "/metrics")[1])}
    depth = {(s.labels["queue"], s.labels["state"]): s.value for s in admin["zipar_queue_jobs"].samples}
    assert depth[("demo", "done")] == 4
    assert "zipar_queue_oldest_queued_seconds" in admin
