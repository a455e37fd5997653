"""What the tests against live processes share (the browser test, the API contract, the --json schemas, the
metrics docs): the built executables, the bundled model, a scratch database on the PostgreSQL of PG*, and
small HTTP helpers. Not a test module itself."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ZIPAR_BIN", os.path.join(ROOT, ".build", "debug"))
MODEL = os.path.join(ROOT, "models", "fashion-16")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for(url: str, status: int, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if get(url)[0] == status:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer {status} within {seconds}s")


def psql(db: str, sql: str) -> str:
    return subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def run(*args: str, env: dict, **kw) -> subprocess.CompletedProcess:
    """One of the built executables, to completion (a failure raises with its output)."""
    return subprocess.run([os.path.join(BIN, args[0]), *args[1:]], env=env, check=True, capture_output=True, text=True, **kw)


class Scratch:
    """A fresh database (`db`), the environment that points every executable at it (`env`), a temporary folder
    (`work`), and the processes started for it (`start`), all gone when the `with` block ends."""

    def __init__(self, db: str, env: dict, work: str):
        self.db, self.env, self.work = db, env, work
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str, log: str | None = None) -> subprocess.Popen:
        """A built executable in the background; its stderr to `work/log` when named."""
        err = open(os.path.join(self.work, log), "w") if log else subprocess.DEVNULL
        p = subprocess.Popen([os.path.join(BIN, args[0]), *args[1:]], env=self.env, stdout=subprocess.DEVNULL, stderr=err)
        self.procs.append(p)
        return p


@contextlib.contextmanager
def scratch(name: str, migrate: bool = True):
    db = f"zipar_{name}_{os.getpid()}"
    psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {db}")
    env = dict(os.environ, PGDATABASE=db)
    env.pop("DATABASE_URL", None)
    s = Scratch(db, env, tempfile.mkdtemp(prefix=f"zipar-{name}-"))
    try:
        if migrate:
            run("zipar-admin", "migrate", env=env)
        yield s
    finally:
        for p in s.procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
        psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        shutil.rmtree(s.work, ignore_errors=True)
