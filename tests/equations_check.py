#!/usr/bin/env python3
"""Check docs/equations.md (the paper's equations → code) against the tree.

Usage: python3 tests/equations_check.py [docs/equations.md]

1. Every code reference in a table row must exist. In a cell, a backticked
   path (`crates/.../x.rs`) selects a file; the backticked items after it,
   up to the next path, must be defined in that file:
     `fn name`                      a function or method `fn name`
     `struct N`, `enum N`, `trait N`, `const N`, `type N`, `mod N`
     `Type::name`                   `fn name` in the file, and `Type` defined or
                                    impl'd there (or, when `name` is
                                    Capitalised, `enum Type` with a variant `name`)
   An item with no path before it in its cell refers to the last path of the
   row. `module::fn` spellings are rejected (name the file instead); other
   backticked text (symbols, option names) is ignored.
2. Every row of a table with a "code" column names at least one path and one
   item (so each mapping is checkable).
3. Every equation (1)–(47) and Algorithms 1 and 2 appear in the first column
   of some table row (mapped or listed as not implemented).

Exits 1 listing every failure; prints a summary otherwise. Needs only the
Python standard library.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUM_EQUATIONS = 47
ALGORITHMS = (1, 2)

ITEM_KW = re.compile(r"^(fn|struct|enum|trait|const|type|mod)\s+([A-Za-z_][A-Za-z0-9_]*)$")
ITEM_PATH = re.compile(r"^([A-Z][A-Za-z0-9_]*)::([A-Za-z_][A-Za-z0-9_]*)$")
FILE_PATH = re.compile(r"^[A-Za-z0-9_./-]+\.(rs|py|toml)$")


def split_row(line):
    # Split a Markdown table row on unescaped pipes.
    cells = re.split(r"(?<!\\)\|", line.strip())
    return [c.strip() for c in cells[1:-1]]


def strip_comments(src):
    # Drop // and /* */ comments so a name in a doc comment does not count.
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


_sources = {}


def source(path):
    if path not in _sources:
        p = ROOT / path
        _sources[path] = strip_comments(p.read_text()) if p.is_file() else None
    return _sources[path]


def defines(src, kind, name):
    if kind == "fn":
        return re.search(rf"\bfn\s+{name}\b", src) is not None
    if kind == "const":
        return re.search(rf"\b(const|static)\s+{name}\b", src) is not None
    return re.search(rf"\b{kind}\s+{name}\b", src) is not None


def type_present(src, ty):
    decl = re.search(rf"\b(struct|enum|trait|type)\s+{ty}\b", src)
    imp = re.search(rf"\bimpl\b(\s*<[^>{{]*>)?\s+([A-Za-z0-9_:<>, ]+\s+for\s+)?{ty}\b", src)
    return decl is not None or imp is not None


def check_item(path, token, src):
    m = ITEM_KW.match(token)
    if m:
        kind, name = m.groups()
        return None if defines(src, kind, name) else f"`{token}` not found in {path}"
    m = ITEM_PATH.match(token)
    if m:
        ty, name = m.groups()
        if name[0].isupper():
            if not defines(src, "enum", ty):
                return f"enum `{ty}` not found in {path}"
            return None if re.search(rf"\b{name}\b", src) else f"variant `{token}` not found in {path}"
        if not type_present(src, ty):
            return f"type `{ty}` (for `{token}`) not defined or impl'd in {path}"
        return None if defines(src, "fn", name) else f"method `{token}` (fn {name}) not found in {path}"
    return "skip"


def equation_numbers(first_cell):
    # (7a) → 7; "(39)–(44)" and "(7b)–(7c)" → ranges; "(2), (3)" → both.
    nums = set()
    text = first_cell.replace("\\|", "|")
    for a, b in re.findall(r"\((\d+)[a-c]?\)\s*[–-]\s*\((\d+)[a-c]?\)", text):
        nums.update(range(int(a), int(b) + 1))
    nums.update(int(n) for n in re.findall(r"\((\d+)[a-c]?\)", text))
    algs = {int(n) for n in re.findall(r"Algorithm (\d+)", text)}
    return nums, algs


def main():
    doc = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "equations.md"
    lines = doc.read_text().splitlines()
    errors = []
    refs = 0
    seen_eq, seen_alg = set(), set()
    header = None
    for lineno, line in enumerate(lines, 1):
        if not line.lstrip().startswith("|"):
            header = None
            continue
        cells = split_row(line)
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if all(re.fullmatch(r":?-+:?", c) for c in cells):
            continue
        where = f"{doc.name}:{lineno}"
        if len(cells) != len(header):
            errors.append(f"{where}: {len(cells)} cells, header has {len(header)}")
            continue
        nums, algs = equation_numbers(cells[0])
        seen_eq |= nums
        seen_alg |= algs
        row_path, row_items = None, 0
        for col, cell in zip(header, cells):
            cur = None
            for token in re.findall(r"`([^`]+)`", cell):
                token = token.strip()
                if FILE_PATH.match(token) and "/" in token:
                    if source(token) is None:
                        errors.append(f"{where}: file `{token}` does not exist")
                        cur = None
                    else:
                        cur = row_path = token
                    continue
                if re.fullmatch(r"[a-z_][a-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)+", token):
                    errors.append(f"{where}: `{token}`: name a file `path` and then `fn`/`Type::name`")
                    continue
                path = cur or row_path
                if path is None:
                    continue
                res = check_item(path, token, source(path))
                if res == "skip":
                    continue
                refs += 1
                row_items += 1
                if res:
                    errors.append(f"{where}: {res}")
        if "code" in header and (row_path is None or row_items == 0):
            errors.append(f"{where}: mapping row names no `path` + item: {cells[0]!r}")
    missing_eq = sorted(set(range(1, NUM_EQUATIONS + 1)) - seen_eq)
    missing_alg = sorted(set(ALGORITHMS) - seen_alg)
    if missing_eq:
        errors.append(f"equations missing from every table: {', '.join(f'({n})' for n in missing_eq)}")
    if missing_alg:
        errors.append(f"algorithms missing: {', '.join(f'Algorithm {n}' for n in missing_alg)}")
    if errors:
        print(f"{doc}: {len(errors)} problem(s)", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print(f"{doc}: {refs} code references exist; equations (1)-({NUM_EQUATIONS}) "
          f"and Algorithms {', '.join(map(str, ALGORITHMS))} all covered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
