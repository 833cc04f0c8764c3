"""How well the adaef rule's law approximates a query's qᵀΣq with r principal axes kept, for the
two stand-ins for the dropped axes: probabilistic PCA's mean of the dropped eigenvalues, and the
variance per unit of squared norm a base vector has there (ρ = Σ λᵢ(λᵢ + mᵢ²) / Σ (λᵢ + mᵢ²),
mᵢ = vᵢ·μ; `crates/geodex-adaptive/src/law.rs`). Against the exact qᵀΣq from the full covariance
on the shared sets' 1,000 test queries: the relative error of the standard deviation √(qᵀΣq)
(the walk form's constant factor cancels). Cosine sets use unit vectors, as stored.

    python3 bench/law_residual.py [--data ../shared/data]
"""

import argparse
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def read_vecs(path: Path, dtype) -> np.ndarray:
    raw = np.fromfile(path, dtype=np.uint8)
    dim = int(raw[:4].view(np.int32)[0])
    width = 4 + dim * np.dtype(dtype).itemsize
    return raw.reshape(-1, width)[:, 4:].copy().view(dtype).reshape(-1, dim).astype(np.float64)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--axes", default="16,32,64")
    args = ap.parse_args()
    sets = [("minilm-words-20k", "fvecs", np.float32, True), ("sift-debian", "bvecs", np.uint8, False)]
    print(
        f"{'set':<18} {'axes':>4} {'stand-in':>9} {'mean error':>10} {'p99 |error|':>11} {'max |error|':>11}"
    )
    for name, ext, dtype, unit in sets:
        x = read_vecs(Path(args.data) / name / f"base.{ext}", dtype)
        q = read_vecs(Path(args.data) / name / f"query.{ext}", dtype)
        if unit:
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            q /= np.linalg.norm(q, axis=1, keepdims=True)
        cov = np.cov(x.T, bias=True)
        w, v = np.linalg.eigh(cov)
        w, v = np.maximum(w[::-1], 0), v[:, ::-1]
        exact = np.einsum("ij,jk,ik->i", q, cov, q)
        q_norm = (q * q).sum(1)
        along_mean = v.T @ x.mean(0)
        for r in (int(a) for a in args.axes.split(",")):
            rest, m2 = w[r:], along_mean[r:] ** 2
            stand_ins = {"mean": rest.mean(), "rho": (rest * (rest + m2)).sum() / (rest + m2).sum()}
            p = q @ v[:, :r]
            kept = (p * p).sum(1)
            for label, residual in stand_ins.items():
                approx = (p * p * w[:r]).sum(1) + residual * np.maximum(q_norm - kept, 0)
                err = np.sqrt(approx / exact) - 1
                print(
                    f"{name:<18} {r:>4} {label:>9} {err.mean():>+10.4f} "
                    f"{np.quantile(np.abs(err), 0.99):>11.4f} {np.abs(err).max():>11.4f}"
                )


if __name__ == "__main__":
    main()
