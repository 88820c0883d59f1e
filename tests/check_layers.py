#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Fails on an include cycle between the modules of common/, master/ and
worker/ (a module is x.c with its header x.h), and on mutable static data in
the worker's objects other than the one `struct wk`.

    check_layers.py [BUILD_DIR]   (objects for the statics check; default build)
"""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DIRS = ("common", "master", "worker", "client", "acme")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# worker/main.c: worker_main's `static struct wk w` is the worker's one state.
ALLOWED_STATICS = {("main.o", "w")}


# The Makefile's -I order: where a quoted include not beside its file is found.
SEARCH = ("common", "worker", "master", "acme")


def resolve(d, inc):
    """The module a quoted #include in directory d names, as the compiler
    finds it (its own directory first, then SEARCH), or None."""
    for where in (d, *SEARCH):
        if (REPO / where / inc).is_file():
            return f"{where}/{Path(inc).stem}"
    return None


def module_graph():
    """{module: {modules it includes}}, module = path without extension."""
    graph = {}
    for d in DIRS:
        for f in list((REPO / d).glob("*.c")) + list((REPO / d).glob("*.h")):
            mod = f"{d}/{f.stem}"
            deps = graph.setdefault(mod, set())
            for inc in INCLUDE_RE.findall(f.read_text()):
                target = resolve(d, inc)
                if target and target != mod:
                    deps.add(target)
    return graph


def find_cycle(graph):
    """One cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def mutable_statics(build):
    """(object, symbol) of every data object in a writable section (.data,
    .bss; not .data.rel.ro, which RELRO makes read-only) of the worker's
    objects, one per worker/*.c file."""
    found = []
    for src in sorted((REPO / "worker").glob("*.c")):
        obj = build / "worker" / (src.stem + ".o")
        out = subprocess.run(["objdump", "-t", str(obj)], capture_output=True,
                             text=True, check=True).stdout
        for line in out.splitlines():
            m = re.match(r"\S+\s+\S+\s+O\s+(\S+)\s+\S+\s+(\S+)$", line)
            if not m or not re.match(r"\.(data|bss)(\.|$)", m.group(1)) \
                    or m.group(1).startswith(".data.rel.ro"):
                continue
            if (obj.name, m.group(2).split(".")[0]) not in ALLOWED_STATICS:
                found.append((obj.name, m.group(2)))
    return found


def main():
    problems = []
    cycle = find_cycle(module_graph())
    if cycle:
        problems.append("include cycle: " + " -> ".join(cycle))
    build = REPO / (sys.argv[1] if len(sys.argv) > 1 else "build")
    for obj, sym in mutable_statics(build):
        problems.append(f"worker/{obj}: mutable static data '{sym}' "
                        "(module state belongs in struct wk)")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
