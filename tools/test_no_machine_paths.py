"""No absolute path of one particular machine in the repository.

  python3 -m pytest -q tools/test_no_machine_paths.py      (scripts/test.sh runs it; needs git, not torch)

Scans every file git knows here (tracked, plus untracked files that are not ignored, so a new file is checked
before it is committed) that reads as UTF-8 text; binary files are skipped. The rule:

1. Machine roots are rejected in every file. An absolute path that starts in a top-level folder whose contents
   depend on the machine or its user (MACHINE_ROOTS below: home folders such as home, root and Users; checkout,
   mirror and mount folders such as work, mnt, media, opt, srv, scratch, data, Volumes, private) names a file
   on someone's machine: a checkout, a mirror of another repository, a home folder. Code must take such a
   place as an argument or an environment variable (and say what to pass when it is missing), and documents
   write a placeholder (PATH, <repo>) instead. Windows drive paths (a drive letter, colon, backslash) count too.
   A match must start the path: `some/dir/data/x`, URLs and `~/x` are not absolute paths of a machine.

2. Standard system locations are allowed: usr, bin, dev, proc, sys, etc, var and run hold the same things
   on every POSIX machine (an interpreter, a device, a dataset package, a service's state folder), so naming
   them is an interface, not someone's files.

3. The temporary folder is shared scratch space, so a path in it is not one machine's either; but a tool that
   hard-codes a fixed name in it collides with other users and runs. In tool code (Python files and shell
   scripts: *.py, *.sh, *.bash, and files starting with a shell shebang) a literal path under it is rejected
   except in a mktemp template (a line with `mktemp` and an XXX pattern). Python takes scratch folders from
   `tempfile`; a shell script that needs a stable name uses ${TMPDIR:-/tmp}, the environment's choice. The one
   escape is explicit and reviewed where it stands: a line carrying a `fixed-temp-path: <reason>` comment (the
   pg-start.sh / pg-stop.sh fallback, a name two scripts must agree on and another user must reach). In
   documentation, recorded outputs and test data (Markdown, logs, Swift tests that parse a socket path), such
   paths are examples and stay allowed.
"""
from __future__ import annotations

import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MACHINE_ROOTS = ["home", "root", "Users", "work", "workspace", "mnt", "media", "opt", "srv", "scratch", "data",
                 "Volumes", "private", "net", "nfs"]
# Start of a path: not inside a word, a relative path, a URL host or path, a ~ or $VAR prefix.
START = r"(?<![\w.~$}\-/])"
MACHINE_PATH = re.compile(START + r"/(?:" + "|".join(MACHINE_ROOTS) + r")/[^\s'\"`)\]>,;]*"
                          r"|(?<![\w])[A-Za-z]:\\\\?(?:Users|Documents and Settings)\\")
TEMP_DIR = "t" + "mp"   # spelled in two pieces so this file's own source holds no such literal
TEMP_PATH = re.compile(START + "/" + TEMP_DIR + r"/[^\s'\"`)\]>,;]*")
MKTEMP_LINE = re.compile(r"\bmktemp\b.*XXX")
MARKED_LINE = re.compile(r"fixed-temp-path: ")   # a deliberate stable name, with its reason on the line
TOOL_SUFFIXES = (".py", ".sh", ".bash")


def repo_files() -> list[str]:
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"not a git checkout ({e}): nothing to scan")
    return sorted({f for f in out.decode().split("\0") if f})


def read_text(path: str) -> str | None:
    try:
        with open(os.path.join(ROOT, path), "rb") as fh:
            raw = fh.read()
    except OSError:  # deleted in the working tree, a submodule folder, ...
        return None
    if b"\0" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def is_tool_code(path: str, text: str) -> bool:
    return path.endswith(TOOL_SUFFIXES) or re.match(r"#!.*\b(ba|z|da)?sh\b", text) is not None


def violations(path: str, text: str) -> list[str]:
    found = []
    tool = is_tool_code(path, text)
    for n, line in enumerate(text.splitlines(), 1):
        for m in MACHINE_PATH.finditer(line):
            found.append(f"{path}:{n}: machine path {m.group(0)!r}")
        if tool and not MKTEMP_LINE.search(line) and not MARKED_LINE.search(line):
            for m in TEMP_PATH.finditer(line):
                found.append(f"{path}:{n}: fixed temporary path {m.group(0)!r} in tool code "
                             "(use tempfile / mktemp, or ${TMPDIR:-/" + TEMP_DIR + "} in shell)")
    return found


def test_rule_examples():
    """The rule itself, on made-up lines (so a regression in the patterns cannot pass silently)."""
    home, tmp = "/" + "home", "/" + TEMP_DIR
    bad = [("a.md", f"see {home}/alice/repo"), ("a.py", f'REPO = "/{MACHINE_ROOTS[3]}/.mirror/x"'),
           ("a.sh", f"out={tmp}/fixed"), ("a.py", f'default="{tmp}/zipar-eval"'), ("b.md", "C:" + "\\" + "Users\\bob\\x")]
    good = [("a.sh", f'd="$(mktemp -d {tmp}/zipar.XXXXXX)"'), ("a.sh", "d=${TMPDIR:-" + tmp + "}/x"),
            ("a.md", f"--out {tmp}/grid"), ("a.py", "#!/usr/bin/env python3"), ("a.py", "/proc/self/exe /dev/null"),
            ("a.md", "https://example.org/home/x"), ("a.md", "tools/checkpoints/data/x"), ("a.md", "~/work/x"),
            ("a.py", '"/usr/share/datasets/fashion-mnist"'), ("a.service", "/var/lib/zipar /etc/zipar"),
            ("a.sh", f'd="{tmp}/x-$(id -u)"   # fixed-temp-path: shared with b.sh')]
    for path, line in bad:
        assert violations(path, line), (path, line)
    for path, line in good:
        assert not violations(path, line), (path, line)


def test_no_machine_paths():
    found = []
    for path in repo_files():
        text = read_text(path)
        if text is not None:
            found += violations(path, text)
    assert not found, ("absolute machine paths (see this test's docstring for the rule):\n  "
                       + "\n  ".join(found))
