#!/usr/bin/env python3
"""A random recursive tree as a transitive closure (`child<TAB>ancestor` lines), the synthetic
hierarchy of HYPERBOLIC.md: node i > 0 takes a parent uniformly among nodes 0..i-1, so depths
grow like ln N (mean ≈ ln N, height ≈ e·ln N) and degrees are skewed like real taxonomies'.

    python3 bench/random_tree.py 100000 /tmp/tree100k.tsv --seed 1
"""

import argparse
import random


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("nodes", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    parent = [-1] + [rng.randrange(i) for i in range(1, a.nodes)]
    pairs = 0
    with open(a.out, "w") as f:
        for child in range(1, a.nodes):
            p = parent[child]
            while p >= 0:
                f.write(f"t{child:07d}\tt{p:07d}\n")
                pairs += 1
                p = parent[p]
    print(f"{a.nodes} nodes, {pairs} closure pairs written to {a.out}")


if __name__ == "__main__":
    main()
