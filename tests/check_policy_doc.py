#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""SECURITY.md's syscall table (syscall x role) is generated from the policy
table in common/sandbox.c, so the two cannot drift.

    check_policy_doc.py           fail if SECURITY.md's table is not current
    check_policy_doc.py --write   rewrite it
"""
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEGIN = "<!-- syscall table: generated from common/sandbox.c by tests/check_policy_doc.py -->"
END = "<!-- end of the syscall table -->"
ROLES = (("W", "worker"), ("K", "key"), ("S", "stun"), ("D", "dns"), ("V", "verify"),
         ("M", "mesh dialer"), ("A", "acme"))
RULES = {
    "ANY": "yes",
    "NO_EXEC_PROT": "without `PROT_EXEC`",
    "READ_ONLY_OPEN": "read-only",
    "IP_SOCKET": "`AF_INET`/`AF_INET6`/`AF_UNIX`",
    "FIONREAD_ONLY": "`FIONREAD` only",
    "TCP_SOCKOPT": "`TCP_NODELAY`, `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_USER_TIMEOUT`, `SO_KEEPALIVE`",
    "SELF_SIGNAL": "itself only",
    "FUTEX_WAKE_ONLY": "`FUTEX_WAKE` only",
    "FILE_FLAGS_ONLY": "`F_GETFL`, `F_SETFL` only",
    "UNIX_PAIR": "`AF_UNIX` only",
    "CREATE_EXCL": "new files only (`O_CREAT\\|O_EXCL`)",
}


def policy():
    """[(syscall, {role: rule text})] in table order, production entries only."""
    src = (REPO / "common" / "sandbox.c").read_text()
    body = src[src.index("policy[] = {"):]
    body = body[:body.index("\n};")]
    body = re.sub(r"#ifdef __SANITIZE_ADDRESS__.*?#endif", "", body, flags=re.S)
    rows = {}
    for name, rule, roles in re.findall(r"\{ SC\((\w+)\),\s*(\w+),\s*([A-Z |]+)\}", body):
        row = rows.setdefault(name, {})
        for letter, role in ROLES:
            if letter in roles.replace(" ", "").split("|"):
                # a syscall allowed under two rules (openat) shows both
                row[role] = row[role] + " or " + RULES[rule] if role in row else RULES[rule]
    return list(rows.items())


def table():
    lines = ["| syscall | " + " | ".join(r for _, r in ROLES) + " |",
             "|---" * (len(ROLES) + 1) + "|"]
    for name, row in policy():
        lines.append(f"| `{name}` | " + " | ".join(row.get(r, "") for _, r in ROLES) + " |")
    return "\n".join(lines)


def main():
    path = REPO / "SECURITY.md"
    text = path.read_text()
    if BEGIN not in text or END not in text:
        print(f"SECURITY.md: no {BEGIN} ... {END} block")
        return 1
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + BEGIN + "\n" + table() + "\n" + END + tail
    if "--write" in sys.argv:
        path.write_text(new)
        return 0
    if new != text:
        print("SECURITY.md's syscall table differs from common/sandbox.c: "
              "run tests/check_policy_doc.py --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
