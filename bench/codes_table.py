"""Walk-on-codes comparison at equal bytes per vector, interleaved to survive a noisy machine.

Each configuration is an index file plus `geodex bench` options (e.g. `--rerank 64` or
`--rerank-bound 1.9`); every round runs each configuration once (single thread, one timed run),
in turn, and the table reports the median QPS over the rounds with recall@10, the candidates
re-ranked per query, the bytes per code and the resident bytes per vector (`info --json`:
`code_bytes`, `ram_bytes`) against the flat index's.

    python3 bench/codes_table.py --geodex target/release/geodex --queries Q --groundtruth GT \
        --ef 32,64,128 --rounds 3 --flat flat.gdx --config 'pq8 m16|pq16.gdx|--rerank 64' ...

`--config` is `LABEL|INDEX|BENCH-OPTIONS`; the flat index runs as one more configuration.
"""

import argparse
import collections
import json
import shlex
import statistics

from geodex_cli import run, sweep


def info(geodex, index):
    """`geodex info --json` of an index."""
    return json.loads(run([geodex, "info", "--index", index, "--json"]))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--geodex", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--groundtruth", required=True)
    p.add_argument("--ef", default="32,64,128")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--flat", required=True, help="the unquantised index the ratios are taken against")
    p.add_argument("--config", action="append", default=[], help="LABEL|INDEX|BENCH-OPTIONS")
    p.add_argument("--csv", help="also write the table as CSV")
    a = p.parse_args()
    configs = [("flat", a.flat, "")] + [tuple(c.split("|", 2)) for c in a.config]
    rows = collections.defaultdict(list)
    for _ in range(a.rounds):
        for label, index, options in configs:
            for r in sweep(
                a.geodex, index, a.queries, a.groundtruth, a.ef, "--runs", "1", *shlex.split(options)
            ):
                rows[(label, r["ef"])].append(r)
    flat_ram = None
    lines = [
        "label,index,options,code_bytes,ram_bytes_per_vector,ram_vs_flat,ef,recall,median_qps,mean_reranked"
    ]
    print(
        f"{'label':<22} {'code B':>6} {'RAM B/vec':>9} {'vs flat':>7} {'ef':>4} {'recall':>7} {'QPS':>8} {'reranked':>8}"
    )
    for label, index, options in configs:
        i = info(a.geodex, index)
        per_vector = i["ram_bytes"] / i["count"]
        flat_ram = flat_ram or per_vector
        for ef in (int(e) for e in a.ef.split(",")):
            runs = rows[(label, ef)]
            qps = statistics.median(r["qps"] for r in runs)
            recall, reranked = runs[0]["recall"], runs[0]["mean_reranked"]
            ratio = per_vector / flat_ram
            print(
                f"{label:<22} {i['code_bytes']:>6} {per_vector:>9.1f} {ratio:>7.3f} {ef:>4} {recall:>7.4f} "
                f"{qps:>8,.0f} {reranked:>8.1f}"
            )
            lines.append(
                f"{label},{index},{options},{i['code_bytes']},{per_vector:.1f},{ratio:.4f},{ef},{recall:.4f},"
                f"{qps:.0f},{reranked:.1f}"
            )
    if a.csv:
        with open(a.csv, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
