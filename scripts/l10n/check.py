#!/usr/bin/env python3
"""Checks every catalog in locales/ against the English one: the same keys, the same {placeholders}
in each text, 12 months, a direction of ltr or rtl, and a reviewer line in the header.

Usage: python3 scripts/l10n/check.py [locales-dir]
"""
import re
import sys
import tomllib
from pathlib import Path


def flatten(prefix, value, out):
    if isinstance(value, dict):
        for key, inner in value.items():
            flatten(f"{prefix}.{key}" if prefix else key, inner, out)
    else:
        out[prefix] = value


def load(path):
    out = {}
    flatten("", tomllib.loads(path.read_text(encoding="utf-8")), out)
    return out


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "locales")
    english = load(folder / "en.toml")
    problems = []
    for path in sorted(folder.glob("*.toml")):
        code = path.stem
        texts = load(path)
        for key in english.keys() - texts.keys():
            problems.append(f"{code}: lacks {key}")
        for key in texts.keys() - english.keys():
            problems.append(f"{code}: has {key}, which English lacks")
        for key, text in texts.items():
            if key not in english:
                continue
            want = sorted(re.findall(r"\{[a-z_0-9]+\}", english[key]))
            got = sorted(re.findall(r"\{[a-z_0-9]+\}", text))
            if want != got:
                problems.append(f"{code}: {key} has {got}, English has {want}")
        if len(texts.get("meta.months", "").split(",")) != 12:
            problems.append(f"{code}: meta.months must list 12 months")
        if texts.get("meta.direction") not in ("ltr", "rtl"):
            problems.append(f"{code}: meta.direction must be ltr or rtl")
        header = path.read_text(encoding="utf-8").split("[meta]")[0]
        if "Reviewer:" not in header:
            problems.append(f"{code}: the header names no Reviewer:")
    for problem in problems:
        print(problem)
    print(f"{len(list(folder.glob('*.toml')))} catalogs, {len(english)} keys, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
