#!/usr/bin/env python3
"""Submit a JSONL batch to `zipar-admin serve`, follow its events, download the images.

Standard library only. Usage:

    ZIPAR_SUBMIT_TOKEN=... python3 examples/batch_client.py examples/batch.jsonl --out out/batch \
        [--server http://127.0.0.1:8080] [--key my-batch-1]

The same --key makes a re-run safe: the server answers the batch it already has instead of a second one.
The event stream is resumed with Last-Event-ID after a dropped connection, so no completion is missed.
"""
import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request


def request(server, method, path, token=None, body=None, headers=None):
    req = urllib.request.Request(server + path, data=body, method=method, headers=headers or {})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    return urllib.request.urlopen(req, timeout=60)


def submit(args, token):
    with open(args.file, "rb") as f:
        body = f.read()
    headers = {"Content-Type": "application/jsonl"}
    if args.key:
        headers["Idempotency-Key"] = args.key
    try:
        with request(args.server, "POST", "/api/batches", token, body, headers) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")
        sys.exit(f"batch refused ({e.code}): {detail}")


def events(server, batch_id):
    """Yields (event id, data) for the batch's jobs as they finish; reconnects after the last id seen."""
    last = None
    while True:
        headers = {"Accept": "text/event-stream"}
        if last is not None:
            headers["Last-Event-ID"] = last
        try:
            with request(server, "GET", f"/api/events?batch={batch_id}", headers=headers) as stream:
                event_id, data = None, []
                for raw in stream:
                    line = raw.decode("utf-8").rstrip("\r\n")
                    if line.startswith("id:"):
                        event_id = line[3:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif line == "" and data:
                        last = event_id
                        yield event_id, json.loads("\n".join(data))
                        event_id, data = None, []
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            print(f"stream dropped ({e}); resuming after event {last}", file=sys.stderr)
            time.sleep(2)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", help="JSONL batch: one request a line, each with a custom_id")
    p.add_argument("--server", default="http://127.0.0.1:8080")
    p.add_argument("--out", default="batch-out", help="folder for the PNGs (CUSTOM_ID-JOB.png)")
    p.add_argument("--key", help="Idempotency-Key: the same key and file give back the same batch")
    args = p.parse_args()
    token = os.environ.get("ZIPAR_SUBMIT_TOKEN")
    if not token:
        sys.exit("set ZIPAR_SUBMIT_TOKEN (the server's submit token)")
    os.makedirs(args.out, exist_ok=True)

    batch = submit(args, token)
    total = batch["jobs"]
    print(f"batch {batch['id']}: {total} job(s)")
    finished = 0
    for _, event in events(args.server, batch["id"]):
        finished += 1
        name = f"{event.get('custom_id') or 'job'}-{event['job_id'][:8]}"
        if event["state"] == "done":
            with request(args.server, "GET", event["image_url"]) as r, open(os.path.join(args.out, name + ".png"), "wb") as f:
                f.write(r.read())
            print(f"[{finished}/{total}] {name}.png")
        else:
            print(f"[{finished}/{total}] {name}: {event['state']}")
        if finished >= total:
            break
    # The summary: one JSON line per job (custom_id, state, passes, seconds, image_url, last_error).
    with request(args.server, "GET", f"/api/batches/{batch['id']}/results?wait=0") as r:
        results = [json.loads(line) for line in r if line.strip()]
    failed = [x for x in results if x["state"] != "done"]
    print(f"done {len(results) - len(failed)}, not done {len(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
