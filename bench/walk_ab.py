#!/usr/bin/env python3
"""Median QPS per (label, ef) over the rounds of an interleaved walk-on-codes A/B (the raw output
of bench/results/2026-12-04-walk-amd/commands*.sh and 2026-12-06-pq8-blocks/commands.sh: "## ROUND LABEL"
then `geodex bench` rows), and each walk on codes (labels ending in -codes or -nodes) against the flat
index of the same set (label SET-flat, SET the label's first word) at equal recall (flat QPS interpolated linearly in recall
between the two ladder points around the walk's recall; medians of the same rounds).

Usage: walk_ab.py ab.txt
"""

import statistics
import sys
from collections import defaultdict

from equal_recall import fixed_work_at


def read(path: str) -> dict[str, dict[int, tuple[float, list[float]]]]:
    rows: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(lambda: [0.0, []]))
    label = None
    with open(path) as lines:
        for line in lines:
            if line.startswith("## "):
                label = line.split()[2]
                continue
            fields = line.split()
            if label is None or len(fields) < 3 or not fields[0].isdigit():
                continue
            cell = rows[label][int(fields[0])]
            cell[0] = float(fields[1])
            cell[1].append(float(fields[2]))
    return {k: {ef: (r, q) for ef, (r, q) in v.items()} for k, v in rows.items()}


def main() -> None:
    rows = read(sys.argv[1])
    for label, by_ef in sorted(rows.items()):
        for ef, (recall, qps) in sorted(by_ef.items()):
            print(
                f"{label:14s} ef {ef:4d} recall {recall:.4f} median {statistics.median(qps):9.0f} "
                f"min {min(qps):7.0f} max {max(qps):7.0f} (n {len(qps)})"
            )
    for codes in sorted(k for k in rows if k.endswith(("-codes", "-nodes"))):
        flat = rows.get(codes.split("-")[0] + "-flat", {})
        ladder = sorted((r, statistics.median(q)) for r, q in flat.values())
        for ef, (recall, qps) in sorted(rows[codes].items()):
            f = fixed_work_at(ladder, recall)  # any quantity on the recall ladder
            ratio = (
                "below or above the flat ladder"
                if f is None
                else f"flat {f:8.0f} ratio {statistics.median(qps) / f:.2f}"
            )
            print(f"{codes:14s} ef {ef:4d} recall {recall:.4f} {ratio}")


if __name__ == "__main__":
    main()
