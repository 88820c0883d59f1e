#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Fails when a tracked source file lacks its SPDX license line, or when
LICENSE and debian/copyright disagree on the license."""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPDX = "SPDX-License-Identifier: BSD-3-Clause"
# Data, not source: fuzz inputs and dictionaries, and formats without comments.
SKIP = re.compile(r"^tests/fuzz/(corpus|crashes|dict)/|\.(md|json|conf|service|docs|install)$"
                  r"|^packaging/debian/(changelog|control|copyright|source/)|^LICENSE$|^\.gitignore$"
                  r"|\.lintian-overrides$")


def main():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    missing = [f for f in files if not SKIP.search(f) and (REPO / f).is_file()
               and SPDX not in (REPO / f).read_text(errors="replace")[:400]]
    problems = [f"{f}: no '{SPDX}' line near the top" for f in missing]
    if "BSD 3-Clause License" not in (REPO / "LICENSE").read_text():
        problems.append("LICENSE is not the BSD 3-Clause license")
    copyright = (REPO / "packaging/debian/copyright").read_text()
    if not re.search(r"^License: BSD-3-Clause$", copyright, re.M):
        problems.append("packaging/debian/copyright does not say License: BSD-3-Clause")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
