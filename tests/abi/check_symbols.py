#!/usr/bin/env python3
"""Check that a shared library's exports, its version script and its public
headers agree (STYLE.md rule 13, after libxkbcommon's symbols-leak-test).

  check_symbols.py --lib LIB.so --map VERSION.map --header H.h [--header ...]
                   [--nm nm]

Three sets are compared:
  exports  `nm -D --defined-only LIB.so`, less the version-node symbols
           (TICKETRING_1 ...) that nm lists as absolute symbols;
  map      every name in a `global:` section of the version script;
  header   every function (or variable) declared with TR_EXPORT.
The test fails when any export does not start with `tr_`, when the version
script uses a wildcard in `global:`, or when the three sets differ; each
difference is printed by name.
"""

import argparse
import re
import subprocess
import sys


def strip_c(text):
    """Drop comments, string literals and preprocessor lines (with their
    continuations), leaving declarations only."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    out = []
    continued = False
    for line in text.split("\n"):
        if continued or line.lstrip().startswith("#"):
            continued = line.rstrip().endswith("\\")
            continue
        out.append(line)
    return "\n".join(out)


def header_exports(paths):
    names = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = strip_c(f.read())
        # A declaration runs from TR_EXPORT to the next ';'.
        for m in re.finditer(r"\bTR_EXPORT\b([^;]*);", text):
            decl = m.group(1)
            if "(" in decl:
                # function: the identifier right before the parameter list
                # (a function returning a function pointer is not expected
                # in this API, and would be reported as a difference).
                fm = re.search(r"(\w+)\s*\(", decl)
            else:
                # variable: the last identifier (before any array bounds)
                fm = re.search(r"(\w+)\s*(?:\[[^\]]*\]\s*)*$", decl.strip())
            if not fm:
                sys.exit("%s: cannot parse TR_EXPORT declaration: %s"
                         % (path, " ".join(decl.split())))
            names.setdefault(fm.group(1), path)
    return names


def map_exports(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"#[^\n]*", " ", text)
    nodes = set(re.findall(r"([\w.]+)\s*\{", text))
    globs = set()
    wildcards = []
    # Each node: NAME { global: a; b; local: *; } [PARENT];
    for body in re.findall(r"\{(.*?)\}", text, flags=re.S):
        section = None
        for tok in re.split(r"[;\s]+", body):
            if not tok:
                continue
            if tok.endswith(":"):
                section = tok[:-1]
                continue
            if section == "global":
                if any(c in tok for c in "*?["):
                    wildcards.append(tok)
                else:
                    globs.add(tok)
    return globs, nodes, wildcards


def nm_exports(nm, lib, nodes):
    try:
        out = subprocess.run([nm, "-D", "--defined-only", lib], check=True,
                             stdout=subprocess.PIPE,
                             universal_newlines=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit("cannot run %s -D --defined-only %s: %s" % (nm, lib, e))
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        kind, name = parts[-2], parts[-1]
        name = name.split("@", 1)[0]      # tr_x@@TICKETRING_1 -> tr_x
        if kind == "A" and name in nodes:
            continue                      # version node, not a symbol
        syms.add(name)
    return syms


def report(title, names):
    print("  %s (%d):" % (title, len(names)))
    for n in sorted(names):
        print("    " + n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--map", required=True)
    ap.add_argument("--header", action="append", required=True)
    ap.add_argument("--nm", default="nm")
    a = ap.parse_args()

    hdr = header_exports(a.header)
    mapped, nodes, wildcards = map_exports(a.map)
    exp = nm_exports(a.nm, a.lib, nodes)
    hdr_set = set(hdr)

    print("library: %s" % a.lib)
    print("version script: %s (nodes: %s)" % (a.map, ", ".join(sorted(nodes))))
    print("headers: %s" % ", ".join(a.header))
    print("exported %d, in version script %d, TR_EXPORT in headers %d"
          % (len(exp), len(mapped), len(hdr_set)))

    failures = 0

    def check(cond, title, names):
        nonlocal failures
        if not cond:
            failures += 1
            print("FAIL: " + title)
            report("symbols", names)

    check(not [s for s in exp if not s.startswith("tr_")],
          "exported symbols that do not start with tr_",
          [s for s in exp if not s.startswith("tr_")])
    check(not [s for s in mapped if not s.startswith("tr_")],
          "version script lists names that do not start with tr_",
          [s for s in mapped if not s.startswith("tr_")])
    check(not wildcards, "version script global: uses a wildcard", wildcards)
    check(not (exp - mapped), "exported but not in the version script",
          exp - mapped)
    check(not (mapped - exp), "in the version script but not exported "
          "(missing definition or hidden)", mapped - exp)
    check(not (hdr_set - exp), "declared TR_EXPORT in a header but not "
          "exported", hdr_set - exp)
    check(not (exp - hdr_set), "exported but not declared TR_EXPORT in "
          "the header(s)", exp - hdr_set)
    check(not (hdr_set - mapped), "declared TR_EXPORT but not in the "
          "version script", hdr_set - mapped)
    check(not (mapped - hdr_set), "in the version script but not declared "
          "TR_EXPORT", mapped - hdr_set)

    if failures:
        print("%d check(s) failed" % failures)
        return 1
    print("OK: exports, version script and headers agree (%d symbols)"
          % len(exp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
