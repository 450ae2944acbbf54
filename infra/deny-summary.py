#!/usr/bin/env python3
"""Summarise one cargo-deny run (its `--format json` diagnostics) for a readable log.

    infra/deny-summary.py LABEL REPORT.jsonl LIST.txt

Errors are printed in full, with their labels and notes, so the line that failed a
`make test` is easy to find. Warnings are counted by kind (the dependency policy keeps
duplicate versions a warning: there are a dozen in the tree), and listed one per line in
LIST.txt under target/, not in the log. Lines that are not JSON (cargo's own messages, a
configuration error) are printed as they came. `DENY_VERBOSE=1 make deny` prints
cargo-deny's own report instead (infra/deny.sh).
"""

import json
import sys
from collections import Counter


def describe(fields):
    """The diagnostic as text: its message, then each label's span and message, then notes."""
    lines = [f"{fields.get('severity', '?')}[{fields.get('code', '?')}]: {fields.get('message', '')}"]
    for label in fields.get("labels") or []:
        span = " / ".join(part.strip() for part in str(label.get("span", "")).splitlines() if part.strip())
        lines.append(f"    {label.get('message', '')}: {span}")
    for note in fields.get("notes") or []:
        lines.append(f"    note: {note}")
    return lines


def main():
    label, report, listing = sys.argv[1:4]
    errors, warnings, other, summary = [], [], [], None
    with open(report, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                other.append(line)
                continue
            if entry.get("type") == "summary":
                summary = entry.get("fields", {})
                continue
            fields = entry.get("fields", {})
            if entry.get("type") != "diagnostic":
                other.append(line)
            elif fields.get("severity") == "error":
                errors.append(fields)
            elif fields.get("severity") == "warning":
                warnings.append(fields)
    for line in other:
        print(line)
    with open(listing, "w", encoding="utf-8") as out:
        for fields in warnings:
            out.write("\n".join(describe(fields)) + "\n")
    for fields in errors:
        print("\n".join(describe(fields)))
    counts = Counter(fields.get("code", "?") for fields in warnings)
    kinds = ", ".join(f"{n} {code}" for code, n in sorted(counts.items())) or "none"
    checks = ""
    if summary:
        checks = "; " + ", ".join(
            f"{name} {'ok' if not result.get('errors') else 'FAILED'}" for name, result in sorted(summary.items())
        )
    print(f"cargo deny ({label}): {len(errors)} error(s), warnings: {kinds}{checks}")
    if warnings:
        print(f"  the warnings, one per entry: {listing} (or DENY_VERBOSE=1 for cargo-deny's own report)")


if __name__ == "__main__":
    main()
