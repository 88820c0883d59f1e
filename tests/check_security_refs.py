#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Fails when SECURITY.md names a test that does not exist, so that every
claim's test reference stays a real test.

A reference is a backquoted name: `test_x.py` (a file of tests/e2e,
tests/package or tests/acme), `test_x.py::test_y` (and the function in that
file), `test_y` alone (a function in some test file), `tests/unit/test_z.c`
(and `::test_fn`), `tests/fuzz/fuzz_w.c` (a harness fuzz.mk declares)."""
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY_DIRS = ("tests/e2e", "tests/package", "tests/acme")
REF = re.compile(r"`((?:tests/[\w/]+/)?test_\w+\.(?:py|c)(?:::\w+)?|tests/fuzz/fuzz_\w+\.c"
                 r"|test_\w+)`")


def py_file(name):
    for d in PY_DIRS:
        if (REPO / d / name).is_file():
            return REPO / d / name
    return None


def defines(path, func):
    text = path.read_text()
    if path.suffix == ".py":
        return re.search(rf"^def {func}\(", text, re.M) is not None
    return re.search(rf"^{func}\(", text, re.M) is not None


def check(ref):
    """None if ref names something real, else why not."""
    name, _, func = ref.partition("::")
    if name.startswith("tests/fuzz/"):
        target = Path(name).stem
        if not (REPO / name).is_file():
            return "no such harness"
        targets = re.search(r"^FUZZ_TARGETS\s*=((?:.*\\\n)*.*)$",
                            (REPO / "tests/fuzz/fuzz.mk").read_text(), re.M).group(1)
        return None if target in targets.split() else "not in fuzz.mk's FUZZ_TARGETS"
    if name.endswith(".c"):
        path = REPO / name
    elif name.endswith(".py"):
        path = py_file(name)
    else:                                       # a function, file unnamed
        files = [f for d in PY_DIRS for f in (REPO / d).glob("test_*.py")]
        files += list((REPO / "tests/unit").glob("test_*.c"))
        return None if any(defines(f, name) for f in files) else "no such test function"
    if path is None or not path.is_file():
        return "no such test file"
    if func and not defines(path, func):
        return f"{path.relative_to(REPO)} has no {func}"
    return None


def main():
    text = (REPO / "SECURITY.md").read_text()
    refs = sorted(set(REF.findall(text)))
    problems = [f"SECURITY.md names `{r}`: {why}" for r in refs if (why := check(r))]
    for p in problems:
        print(p)
    if not refs:
        problems.append("SECURITY.md names no test at all")
        print(problems[-1])
    print(f"check_security_refs: {len(refs)} test references, {len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
