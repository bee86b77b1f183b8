#!/usr/bin/env python3
"""Keeps the docs' references to the code from going stale.

Two checks, over README.md and every docs/**/*.md:

1. Every path in backticks that starts with `crates/`, `scripts/`, `fuzz/` or `docs/`
   names a file or directory that exists (a `path:LINE` must name a real line).
2. In a lesson's table of socket calls (the rows between `<!-- calls -->` and
   `<!-- /calls -->`), the last column is `path:LINE` and that line calls what the
   "socklab" column names: the identifier of its first code span, cut at the first
   `(`, last `::` or `.` segment (`socket2::Socket::new(…)` -> `new`), outside a
   comment. Within one
   file the lines must not go back up: the code shows the calls in the table's order.

`--fix` rewrites the LINE of each call row that fails to the first line, at or after the row
before it in the same file, that calls the identifier: when a file calls it in
several functions, check that the row still points into the function its text names. Exit status: 0 when every
reference holds, 1 otherwise (each failure is printed with the doc's file and line).
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH_RE = re.compile(r"`((?:crates|scripts|fuzz|docs)/[^`\s:]+)(?::(\d+))?`")
CODE_RE = re.compile(r"`([^`]+)`")


def docs():
    yield os.path.join(ROOT, "README.md")
    for base, _, files in os.walk(os.path.join(ROOT, "docs")):
        for f in sorted(files):
            if f.endswith(".md"):
                yield os.path.join(base, f)


def source_lines(path, cache={}):
    if path not in cache:
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            cache[path] = f.read().split("\n")
    return cache[path]


def key_of(cell):
    m = CODE_RE.search(cell)
    if not m:
        return None
    call = m.group(1).split("(")[0].strip()
    return re.split(r"::|\.", call)[-1] or None


def calls(line_text, key):
    # A comment, an import or a definition that names the call is not the call.
    stripped = line_text.lstrip()
    if stripped.startswith(("//", "#", "*", "use ", "pub use ", "mod ", "pub mod ")):
        return None
    code = line_text.split("//")[0]
    if re.search(r"\bfn\s+" + re.escape(key) + r"\b", code):
        return None
    return re.search(r"(?<![A-Za-z0-9_])" + re.escape(key) + r"(?![A-Za-z0-9_])", code)


def check(doc, fix):
    rel = os.path.relpath(doc, ROOT)
    with open(doc, encoding="utf-8") as f:
        text = f.read().split("\n")
    errors = []
    in_calls = False
    last_line = {}
    changed = False
    for i, line in enumerate(text, 1):
        where = f"{rel}:{i}"
        if line.strip() == "<!-- calls -->":
            in_calls, last_line = True, {}
            continue
        if line.strip() == "<!-- /calls -->":
            in_calls = False
            continue
        for m in PATH_RE.finditer(line):
            path, num = m.group(1), m.group(2)
            if "*" in path or any(part.isupper() for part in path.split("/")):
                continue  # a pattern (`fuzz/corpus/TARGET/`), not a path
            full = os.path.join(ROOT, path.rstrip("/"))
            if not os.path.exists(full):
                errors.append(f"{where}: {path} does not exist")
            elif num and int(num) > len(source_lines(path)):
                errors.append(f"{where}: {path} has no line {num}")
        if not in_calls or not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        ref = PATH_RE.search(cells[-1])
        if not ref or not ref.group(2):
            continue  # a row without a place in the code (close = drop, say)
        path, num = ref.group(1), int(ref.group(2))
        key = key_of(cells[-2])
        if key is None:
            errors.append(f"{where}: the call row names no call in its socklab column")
            continue
        lines = source_lines(path)
        still_good = num <= len(lines) and calls(lines[num - 1], key) and num >= last_line.get(path, 0)
        if fix and not still_good:
            start = last_line.get(path, 1)
            found = next((n for n in range(start, len(lines) + 1) if calls(lines[n - 1], key)), None)
            if found and found != num:
                text[i - 1] = line.replace(f"{path}:{num}", f"{path}:{found}")
                num, changed = found, True
        if num > len(lines) or not calls(lines[num - 1], key):
            errors.append(f"{where}: {path}:{num} does not call `{key}`")
        elif num < last_line.get(path, 0):
            errors.append(f"{where}: {path}:{num} comes before the row above it ({last_line[path]}): the code must show the calls in the table's order")
        last_line[path] = num
    if changed:
        with open(doc, "w", encoding="utf-8") as f:
            f.write("\n".join(text))
    return errors


def main():
    fix = "--fix" in sys.argv[1:]
    errors = [e for doc in docs() for e in check(doc, fix)]
    for e in errors:
        print(e)
    if errors:
        print(f"check-doc-refs: {len(errors)} stale reference(s); `python3 scripts/check-doc-refs.py --fix` renumbers call rows")
        return 1
    print("check-doc-refs: every reference holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
