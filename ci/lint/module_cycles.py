#!/usr/bin/env python3
"""No import cycles between the modules of a crate (docs/design.md §7, issue 17).

For every crate under userland/, each top-level module (src/<m>.rs or src/<m>/, the files
below it included) is a node; `crate::<m>` paths in another module's code are edges (a
name re-exported by lib.rs, `crate::Name`, counts as an edge to the module it comes from).
Test code does not count: a file's `#[cfg(test)]` module (from that line on, as the
repository keeps them last) and files named tests.rs. A cycle, of any length, fails with
its path.

Usage: module_cycles.py [REPO_ROOT]            check the repository
       module_cycles.py --self-test            the check must find cycles in made-up crates
"""
import os
import re
import sys
import tempfile

USE_CRATE = re.compile(r"\bcrate::(\{[^;]*?\}|[A-Za-z_][A-Za-z0-9_]*)", re.S)
REEXPORT = re.compile(r"^\s*pub\s+use\s+(?:self::|crate::)?([a-z_][a-z0-9_]*)::(.*?);", re.M | re.S)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
COMMENT = re.compile(r"//[^\n]*")
TEST_MOD = re.compile(r"^\s*#\[cfg\(test\)\]\s*\n\s*(pub(\(\w+\))?\s+)?mod\s", re.M)


def strip_comments(text):
    return COMMENT.sub("", text)


def code(text):
    """The non-test code of a file, without comments."""
    m = TEST_MOD.search(text)
    return strip_comments(text[:m.start()] if m else text)


def modules(src):
    """{module: [files]} of the top-level modules of a crate's src/ (bins excluded)."""
    out = {}
    for entry in sorted(os.listdir(src)):
        path = os.path.join(src, entry)
        if entry in ("lib.rs", "main.rs", "bin"):
            continue
        if entry.endswith(".rs"):
            out.setdefault(entry[:-3], []).append(path)
        elif os.path.isdir(path):
            for dirpath, _dirs, files in os.walk(path):
                out.setdefault(entry, []).extend(
                    os.path.join(dirpath, f) for f in sorted(files)
                    if f.endswith(".rs") and f != "tests.rs")
    return out


def reexports(lib_text, mods):
    """{Name: module} for lib.rs's `pub use m::...Name` lines."""
    names = {}
    for m, rest in REEXPORT.findall(strip_comments(lib_text)):
        if m in mods:
            for n in NAME.findall(rest):
                if n not in ("self", "super", "crate", "as"):
                    names[n] = m
    return names


def edges(src):
    mods = modules(src)
    lib = os.path.join(src, "lib.rs")
    names = {}
    if os.path.exists(lib):
        with open(lib, encoding="utf-8") as f:
            names = reexports(f.read(), mods)
    graph = {m: set() for m in mods}
    for m, files in mods.items():
        for path in files:
            with open(path, encoding="utf-8") as f:
                text = code(f.read())
            for target in USE_CRATE.findall(text):
                firsts = ([target] if not target.startswith("{")
                          else [p.strip().split("::")[0] for p in target[1:-1].split(",")])
                for first in firsts:
                    first = first.strip()
                    to = first if first in mods else names.get(first)
                    if to and to != m:
                        graph[m].add(to)
    return graph


def cycles(graph):
    """Every elementary cycle found by a DFS, each as a list of modules (first repeated)."""
    found, seen = [], set()
    state = {}

    def visit(node, path):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cyc = path[path.index(nxt):] + [nxt]
                key = frozenset(cyc)
                if key not in seen:
                    seen.add(key)
                    found.append(cyc)
            elif nxt not in state:
                visit(nxt, path)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def check(root):
    problems = []
    base = os.path.join(root, "userland")
    for crate in sorted(os.listdir(base)):
        src = os.path.join(base, crate, "src")
        if not os.path.isdir(src):
            continue
        for cyc in cycles(edges(src)):
            problems.append(f"userland/{crate}: import cycle {' -> '.join(cyc)}")
    return problems


def self_test():
    cases = [
        ("two modules", {"a.rs": "use crate::b::B;", "b.rs": "use crate::a::A;"}, True),
        ("through a re-export", {"lib.rs": "pub use push::Push;",
                                 "collect.rs": "use crate::Push;",
                                 "push.rs": "use crate::collect::{Agent, X};"}, True),
        ("three modules", {"a.rs": "fn f() { crate::b::g() }", "b.rs": "use crate::c;",
                           "c/mod.rs": "", "c/x.rs": "use crate::{a::A};"}, True),
        ("in a comment only", {"a.rs": "// use crate::b;", "b.rs": "use crate::a::A;"}, False),
        ("in tests only", {"a.rs": "use crate::b::B;\n#[cfg(test)]\nmod tests {\n}",
                           "b.rs": "x\n#[cfg(test)]\nmod tests {\n    use crate::a::A;\n}"}, False),
        ("a chain", {"a.rs": "use crate::b::B;", "b.rs": "use crate::c::C;", "c.rs": ""}, False),
    ]
    failures = 0
    for desc, files, want in cases:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "userland", "x", "src")
            for name, text in files.items():
                path = os.path.join(src, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
            got = bool(check(tmp))
        ok = got == want
        failures += not ok
        print(f"module_cycles self-test: {'ok  ' if ok else 'FAIL'} {desc}: "
              f"{'cycle' if got else 'no cycle'}")
    return 1 if failures else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    problems = check(root)
    for p in problems:
        print(p)
    if not problems:
        print("module_cycles: no import cycles between the modules of any crate")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
