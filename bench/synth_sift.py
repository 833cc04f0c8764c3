#!/usr/bin/env python3
"""A SIFT-like byte set of any size: a Gaussian mixture fitted to sift-debian, sampled and rounded.

The real set stops at 100k vectors (its generator at about 330k: the Debian photos run out), but
the scaling law (THEORY §1.2) and the ten-million issue need 1M and more. This draws them from a
model of the real set whose *local* structure — what an HNSW walk sees — matches it.

The model (fitted once, cached as an .npz): a mixture of probabilistic PCA (Tipping & Bishop
1999), fitted by classification EM from a k-means start —
  1. k-means with K cells on the real base (scikit-learn, seeded);
  2. in each cell a Gaussian with the cell's mean and the maximum-likelihood PPCA covariance of
     rank r: the cell's top r principal directions with their variances, the other d − r at the
     mean discarded variance σ² times `--noise`;
  3. mixing weights = the cells' shares of the points.
(Full EM with sklearn's GaussianMixture takes 5 minutes for K = 64 on 2 cores; the hard-
assignment M-step above takes seconds for K = 256.) Why PPCA and not full covariances: a cell's
full Gaussian is locally 128-dimensional, and drawn densely enough its nearest neighbours see
that: full covariances gave an intrinsic dimension of 24 (MLE) / 31 (TwoNN) at 100k against
the real set's 15 / 16.6, and the ML noise level (noise = 1) still 24 / 30. With r = 20 and
noise 0.1 the 100k draw measures 15.3 / 17.6, relative contrast 2.75 (real 2.84) — the
defaults. Raising or lowering r gives sets of the same shape with another intrinsic dimension.
A sample draws a cell by weight, then x = μ + L·z (L the Cholesky factor), then rounds and clips
to [0, 255] as SIFT's bytes are. Queries are a separate draw (another seed) from the same model.
A mixture has no structure finer than its components, so what it says about N beyond the real
set's size is a statement about data *of this kind* (clusters of locally 20-dimensional
patches), not a prediction of what more photos would give.

Whether the local structure matches is measured, not assumed: `geodex analyze --only geometry`
on an index of 100k synthetic vectors against the real one (intrinsic dimension by MLE and
TwoNN, relative contrast, CV of squared distances), and `bench/scaling.py` on both sets gives
the ef and the distance evaluations recall 0.95 needs at equal N.

    python3 bench/synth_sift.py --n 1000000 --out bench/out/synth-sift       # 1M base, 1000 queries
    python3 bench/synth_sift.py --n 1000000 --draw 2 --model bench/out/synth-sift/model.npz \
        --out bench/out/synth-sift-2                                          # another draw, same model

Writes OUT/base.bvecs, OUT/query.bvecs and OUT/model.json (parameters and the sample's moments).
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from peers import read_vecs, write_vecs

DATA = os.path.join(os.path.dirname(HERE), "..", "shared", "data", "sift-debian", "base.bvecs")


def fit(real, cells, rank, noise, seed):
    """(weights, means, Cholesky factors) of the mixture of probabilistic PCA described above."""
    from sklearn.cluster import KMeans

    x = real.astype(np.float64)
    labels = KMeans(cells, n_init=1, random_state=seed).fit_predict(x)
    weights, means, factors = [], [], []
    for c in range(cells):
        part = x[labels == c]
        weights.append(len(part) / len(x))
        means.append(part.mean(axis=0))
        factors.append(np.linalg.cholesky(ppca_covariance(np.cov(part, rowvar=False), rank, noise)))
    return np.array(weights), np.array(means), np.array(factors)


def ppca_covariance(cov, rank, noise=1.0):
    """Tipping & Bishop's maximum-likelihood PPCA covariance V_r·Λ_r·V_rᵀ + σ²·(I − V_r·V_rᵀ), σ² the
    mean of the discarded eigenvalues times `noise` (rank 0 or ≥ d: the sample covariance itself), plus 10⁻⁶·I so
    the Cholesky factor exists for a rank-deficient cell."""
    d = len(cov)
    lam, vec = np.linalg.eigh(cov)
    lam, vec = np.clip(lam[::-1], 0, None), vec[:, ::-1]
    if 0 < rank < d:
        lam = np.concatenate([lam[:rank], np.full(d - rank, noise * lam[rank:].mean())])
    return (vec * lam) @ vec.T + 1e-6 * np.eye(d)


def sample(model, n, seed, chunk=200_000):
    """n byte vectors drawn from the mixture, in a fixed order for a fixed seed."""
    weights, means, factors = model
    rng = np.random.default_rng(seed)
    out = np.empty((n, means.shape[1]), dtype=np.uint8)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        cells = rng.choice(len(weights), size=m, p=weights)
        z = rng.standard_normal((m, means.shape[1]))
        x = np.empty_like(z)
        for c in np.unique(cells):
            rows = cells == c
            x[rows] = means[c] + z[rows] @ factors[c].T
        out[start : start + m] = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return out


def load_or_fit(path, real_path, cells, rank, noise, seed):
    if os.path.exists(path):
        z = np.load(path)
        if (
            int(z["cells"]) == cells
            and int(z["rank"]) == rank
            and float(z["noise"]) == noise
            and int(z["seed"]) == seed
        ):
            return z["weights"], z["means"], z["factors"]
    model = fit(read_vecs(real_path), cells, rank, noise, seed)
    np.savez(
        path,
        weights=model[0],
        means=model[1],
        factors=model[2],
        cells=cells,
        rank=rank,
        noise=noise,
        seed=seed,
    )
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--real", default=DATA, help="the set to model (.bvecs)")
    p.add_argument("--n", type=int, default=1_000_000, help="base vectors to draw")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--cells", type=int, default=256, help="mixture components (k-means cells)")
    p.add_argument("--rank", type=int, default=20, help="principal directions kept per cell (0: all)")
    p.add_argument(
        "--noise", type=float, default=0.1, help="scale of the isotropic PPCA noise (1: the ML value)"
    )
    p.add_argument("--seed", type=int, default=42, help="seed of the fit (k-means)")
    p.add_argument("--draw", type=int, default=42, help="seed of the base draw (the queries: draw + 1000003)")
    p.add_argument("--model", help="where the fitted model is cached (default OUT/model.npz)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    cache = args.model or os.path.join(args.out, "model.npz")
    model = load_or_fit(cache, args.real, args.cells, args.rank, args.noise, args.seed)
    base = sample(model, args.n, args.draw)
    queries = sample(model, args.queries, args.draw + 1_000_003)
    write_vecs(os.path.join(args.out, "base.bvecs"), base)
    write_vecs(os.path.join(args.out, "query.bvecs"), queries)
    real = read_vecs(args.real)
    moments = {
        name: {"mean": float(a.mean()), "std": float(a.std()), "zeros": float((a == 0).mean())}
        for name, a in (("real", real), ("synthetic", base[: len(real)]))
    }
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump({**vars(args), "moments": moments}, f, indent=2)
    print(json.dumps(moments))


if __name__ == "__main__":
    main()
