#!/usr/bin/env python3
"""Nonlinear stopping predictors on the traces `examples/stop_gain.rs` dumps (ADAPTIVE.md, "What
the rule should predict"): does gradient boosting, a target of the recall still to come, or the
trajectory's history recover the oracle's headroom that the linear rule leaves?

For each set PREFIX (files PREFIX-learn.csv and PREFIX-test.csv, one row per check of a trace at
the model's cap beam width), every predictor is fitted on the learning queries' checks and
replayed on the test queries' traces at 401 thresholds; the work (mean distance evaluations) at
each recall target is interpolated on the resulting (recall, work) curve, as the Rust example
does, and reported against the linear recall-so-far predictor (the learned rule's target; a
least-squares fit here, the Rust rule's is logistic).

Predictors: targets `recall` (so far; stop when the prediction is high), `rest` (recall still to
come before the cap search ends; stop when low) and `win` (recall gained over the next 4
checks); features the rule's seven, or those plus the history (the k-th distance's change over
the last 1 and 4 checks, the frontier and insert rate 1 and 4 checks ago, the first check's k-th
distance), and either with the queued **frontier** added (the candidates still queued nearer
than the k-th result, ÷ k, and their mean distance ÷ the k-th; columns the traces carry since
issue 17's "richer state" replay). Needs numpy, pandas and scikit-learn.

    python3 bench/stop_gain_gbdt.py /tmp/gain/sift-debian /tmp/gain/minilm-words-20k

With `--radius` before the prefixes, the epsilon rule as a truncation of the same traces (stop
at the first check whose best queued candidate lies beyond (1 + ε) × the k-th distance, the
rule's test on the feature `candidate_over_kth`) is replayed over a grid of ε, alone and OR-ed
with the linear and the boosted recall-so-far predictors: does a learned stop add anything to
the radius? For a combination, each ε's curve over the predictor's thresholds gives the work at
a target, and ε is the one least on the *learning* traces (so the test curve has one free knob,
like every other arm's; "—" where that ε stops too early for the target on the test traces);
the row "bound" takes both knobs from the test traces, an upper bound on what the combination
could gain.

With `PREFIX=TEST_QUERIES` instead (the test queries' TEXMEX file; the learning queries'
must lie at PREFIX-learn.fvecs or .bvecs, as commands.sh leaves them), the best predictors run
without and with LAET-style query features (the query's norm and its leading principal
components, fitted on the learning queries); with `PREFIX=TEST_QUERIES=METRIC` (l2 or cosine)
also with a descriptor of the graph region around the best result (`add_region_features`;
needs PREFIX-base.* and the index's 11 nearest neighbours of every base row, PREFIX-knn.ivecs).
"""

import sys

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression

FEATURES = [
    "ln_distances",
    "ln_hops",
    "kth_over_entry",
    "first_over_kth",
    "candidate_over_kth",
    "insert_rate",
    "lid",
]
HISTORY = FEATURES + [
    "kth_ratio_1",
    "kth_ratio_4",
    "cand_prev_1",
    "cand_prev_4",
    "ins_prev_1",
    "ins_prev_4",
    "first_kth_entry",
]
FRONTIER = ["queued_below_kth", "mean_below_kth"]
TARGETS = (0.9, 0.95, 0.99)
WINDOW = 4


def load(path: str) -> pd.DataFrame:
    """A dump with the targets and the history features added per query."""
    d = pd.read_csv(path)
    g = d.groupby("query")
    d["last_recall"] = g["recall"].transform("last")
    d["rest"] = (d["last_recall"] - d["recall"]).clip(lower=0)
    ahead = g["recall"].shift(-WINDOW).fillna(d["last_recall"])
    d["win"] = (ahead - d["recall"]).clip(lower=0)
    for lag in (1, 4):
        d[f"kth_ratio_{lag}"] = (d["kth_over_entry"] / g["kth_over_entry"].shift(lag)).fillna(1.0)
        d[f"cand_prev_{lag}"] = g["candidate_over_kth"].shift(lag).fillna(d["candidate_over_kth"])
        d[f"ins_prev_{lag}"] = g["insert_rate"].shift(lag).fillna(d["insert_rate"])
    d["first_kth_entry"] = g["kth_over_entry"].transform("first")
    return d


def first_hits(test: pd.DataFrame, hit: np.ndarray) -> tuple[float, float]:
    """(mean recall, mean work) of "stop at each query's first check where `hit`" (the last
    check when none)."""
    qs = test["query"].to_numpy()
    starts = np.flatnonzero(np.r_[True, qs[1:] != qs[:-1]])
    last = np.r_[starts[1:], len(qs)] - 1
    # The first hit at or after each row, scanning back from the end; a query's first row then
    # holds its first hit (or a row past its end, replaced by its last check).
    index = np.where(hit, np.arange(len(hit)), len(hit))
    after = np.minimum.accumulate(index[::-1])[::-1]
    stops = np.minimum(after[starts], last)
    return test["recall"].to_numpy()[stops].mean(), test["distances"].to_numpy()[stops].mean()


def curve(test: pd.DataFrame, pred: np.ndarray, stop_high: bool) -> list[tuple[float, float]]:
    """(mean recall, mean work) of "stop at the first check past the threshold" per threshold."""
    return [
        first_hits(test, pred >= theta if stop_high else pred <= theta)
        for theta in np.quantile(pred, np.linspace(0, 1, 401))
    ]


def work_at(points: list[tuple[float, float]], target: float) -> float | None:
    """The least work reaching `target`, interpolated from the best point below it."""
    above = [p for p in points if p[0] >= target]
    if not above:
        return None
    a = min(above, key=lambda p: p[1])
    below = [p for p in points if p[0] < target and p[1] <= a[1]]
    if not below:
        return a[1]
    b = max(below, key=lambda p: p[0])
    return b[1] + (a[1] - b[1]) * (target - b[0]) / (a[0] - b[0]) if a[0] > b[0] else a[1]


EPSILONS = np.r_[np.linspace(0.0, 0.3, 31), np.linspace(0.32, 1.0, 18), 1.5, 2.0, 4.0, 9.0]


def beyond_radius(frame: pd.DataFrame, epsilon: float) -> np.ndarray:
    """Checks at which the epsilon rule stops: the best queued candidate beyond the radius."""
    return frame["candidate_over_kth"].to_numpy() > 1.0 + epsilon


def radius_rows(learn: pd.DataFrame, test: pd.DataFrame) -> dict:
    """The epsilon rule alone and OR-ed with each recall-so-far predictor, replayed (above)."""
    rows = {"epsilon": []}
    alone = [first_hits(test, beyond_radius(test, e)) for e in EPSILONS]
    rows["epsilon"] = [work_at(alone, t) for t in TARGETS]
    for label, boosted in (("linear", False), ("gbdt", True)):
        model = predictor(boosted).fit(learn[FEATURES].to_numpy(), learn["recall"].to_numpy())
        rows[f"{label} so-far"] = [
            work_at(curve(test, model.predict(test[FEATURES].to_numpy()), True), t) for t in TARGETS
        ]
        per_epsilon = []
        for frame in (learn, test):
            pred = model.predict(frame[FEATURES].to_numpy())
            thetas = np.r_[np.quantile(pred, np.linspace(0, 1, 201)), np.inf]  # ∞: ε alone
            per_epsilon.append(
                [
                    [first_hits(frame, (pred >= th) | beyond_radius(frame, e)) for th in thetas]
                    for e in EPSILONS
                ]
            )
        works = []
        for t in TARGETS:
            on_learn = [work_at(c, t) for c in per_epsilon[0]]
            best = min(
                (i for i, w in enumerate(on_learn) if w is not None), key=lambda i: on_learn[i], default=None
            )
            works.append(None if best is None else work_at(per_epsilon[1][best], t))
            print(
                f"  {label} or epsilon at {t}: ε {EPSILONS[best] if best is not None else '—'} (learning traces)"
            )
        rows[f"{label} so-far or epsilon"] = works
        # Both knobs chosen on the test traces: a bound on what the combination could gain.
        every = [point for per_theta in per_epsilon[1] for point in per_theta]
        rows[f"{label} so-far or epsilon, bound"] = [work_at(every, t) for t in TARGETS]
    return rows


def frontier_diagnosis(test: pd.DataFrame, k: int = 10) -> None:
    """Where the recall still to come hides, late in the search: among the checks whose recall
    so far is at least 0.8 or 0.9, the share of those with a gain ahead whose frontier is empty
    (no queued candidate nearer than the k-th result), against the share among those without."""
    rest = test.groupby("query")["recall"].transform("last") - test["recall"]
    queued = (test["queued_below_kth"] * k).round()
    empty = queued == 0
    print(f"  correlation of the queued count with the recall to come, all checks: {rest.corr(queued):.3f}")
    for low in (0.8, 0.9):
        late = test["recall"] >= low
        ahead = late & (rest > 0)
        print(
            f"  recall so far >= {low}: {late.sum()} checks, {ahead.sum()} with a gain ahead; "
            f"empty frontier in {empty[ahead].mean():.3f} of those (holding "
            f"{rest[ahead & empty].sum() / rest[ahead].sum():.3f} of the gain to come) and in "
            f"{empty[late & (rest == 0)].mean():.3f} of the others"
        )


QUERY_COMPONENTS = 16


def read_vectors(path: str) -> np.ndarray:
    """A TEXMEX file (.fvecs or .bvecs) as a float matrix, one row per vector."""
    raw = np.fromfile(path, dtype=np.uint8)
    dim = int(raw[:4].view("<i4")[0])
    item = 4 if path.endswith(".fvecs") else 1
    rows = raw.reshape(-1, 4 + dim * item)[:, 4:]
    return (rows.copy().view("<f4") if item == 4 else rows).astype(np.float64)


def add_query_features(learn: pd.DataFrame, test: pd.DataFrame, learn_q: str, test_q: str) -> list[str]:
    """LAET-style query features (Li et al., SIGMOD 2020, feed the query vector to their trees):
    the query's norm and its first QUERY_COMPONENTS principal components, the components fitted
    on the learning queries only. Returns the new column names."""
    lq, tq = read_vectors(learn_q), read_vectors(test_q)
    mean = lq.mean(axis=0)
    basis = np.linalg.svd(lq - mean, full_matrices=False)[2][:QUERY_COMPONENTS]
    names = ["query_norm"] + [f"query_pc{i}" for i in range(QUERY_COMPONENTS)]
    for frame, q in ((learn, lq), (test, tq)):
        values = np.column_stack([np.linalg.norm(q, axis=1), (q - mean) @ basis.T])
        frame[names] = values[frame["query"].to_numpy()]
    return names


def walk_distance(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """Row-wise distance in the walk's units: squared L2, or cosine distance."""
    if metric == "l2":
        return ((a - b) ** 2).sum(axis=1)
    dots = (a * b).sum(axis=1)
    return 1 - dots / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def add_region_features(
    learn: pd.DataFrame,
    test: pd.DataFrame,
    prefix: str,
    ext: str,
    metric: str,
    test_q: str,
) -> list[str]:
    """A descriptor of the graph region the search is in, from the best result b at each check
    (the dump's `best_key`, a base row): `region_scale`, b's distance to its 10th nearest base
    neighbour ÷ the median of that over the base (how dense the region is), and `query_in_region`,
    the query's distance to b ÷ b's 10th-neighbour distance (whether the query sits inside b's
    neighbourhood or off it). The neighbours are the index's own search of the base
    (PREFIX-knn.ivecs, k = 11 with the node itself first)."""
    base = read_vectors(f"{prefix}-base.{ext}")
    knn = np.fromfile(f"{prefix}-knn.ivecs", dtype="<i4").reshape(len(base), -1)[:, 1:]
    tenth = walk_distance(base, base[knn[:, 10]], metric)
    scale = tenth / np.median(tenth)
    names = ["region_scale", "query_in_region"]
    for frame, q in (
        (learn, read_vectors(f"{prefix}-learn.{ext}")),
        (test, read_vectors(test_q)),
    ):
        best = frame["best_key"].to_numpy()
        to_best = walk_distance(q[frame["query"].to_numpy()], base[best], metric)
        frame[names] = np.column_stack([scale[best], to_best / np.maximum(tenth[best], 1e-12)])
    return names


def predictor(boosted: bool) -> HistGradientBoostingRegressor | LinearRegression:
    """An unfitted predictor: boosted trees, or least squares."""
    if boosted:
        return HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, random_state=0)
    return LinearRegression()


def fit_and_replay(learn: pd.DataFrame, test: pd.DataFrame, arms: list) -> dict:
    """Each arm fitted on the learning checks and replayed on the test traces: its work at
    each target."""
    rows = {}
    for label, features, target, stop_high, boosted in arms:
        model = predictor(boosted).fit(learn[features].to_numpy(), learn[target].to_numpy())
        points = curve(test, model.predict(test[features].to_numpy()), stop_high)
        rows[label] = [work_at(points, t) for t in TARGETS]
    return rows


def query_arms(query: list[str], region: list[str]) -> list:
    """The best predictors of the frontier replay, without and with the query features, and
    with the region descriptor when there is one."""
    arms = [
        ("linear so-far", FEATURES, "recall", True, False),
        ("gbdt so-far", FEATURES, "recall", True, True),
        ("gbdt so-far +query", FEATURES + query, "recall", True, True),
        (f"gbdt window({WINDOW}) +history", HISTORY, "win", False, True),
        (f"gbdt window({WINDOW}) +history +query", HISTORY + query, "win", False, True),
    ]
    if region:
        arms += [
            ("gbdt so-far +region", FEATURES + region, "recall", True, True),
            (
                f"gbdt window({WINDOW}) +history +region",
                HISTORY + region,
                "win",
                False,
                True,
            ),
        ]
    return arms


def main() -> None:
    arms = [
        ("linear so-far", FEATURES, "recall", True, False),
        ("gbdt so-far", FEATURES, "recall", True, True),
        ("gbdt rest", FEATURES, "rest", False, True),
        ("gbdt so-far +history", HISTORY, "recall", True, True),
        ("gbdt rest +history", HISTORY, "rest", False, True),
        (f"gbdt window({WINDOW}) +history", HISTORY, "win", False, True),
        ("linear so-far +frontier", FEATURES + FRONTIER, "recall", True, False),
        ("gbdt so-far +frontier", FEATURES + FRONTIER, "recall", True, True),
        ("gbdt rest +frontier", FEATURES + FRONTIER, "rest", False, True),
        (
            f"gbdt window({WINDOW}) +history +frontier",
            HISTORY + FRONTIER,
            "win",
            False,
            True,
        ),
    ]
    radius = sys.argv[1:2] == ["--radius"]
    for spec in sys.argv[1 + radius :]:
        prefix, _, test_queries = spec.partition("=")
        test_queries, _, metric = test_queries.partition("=")
        learn, test = load(f"{prefix}-learn.csv"), load(f"{prefix}-test.csv")
        if radius:
            rows = radius_rows(learn, test)
            rows["linear so-far"] = rows.pop("linear so-far")
        elif test_queries:
            ext = test_queries.rsplit(".", 1)[1]
            query = add_query_features(learn, test, f"{prefix}-learn.{ext}", test_queries)
            region = []
            if metric and "best_key" in test:
                region = add_region_features(learn, test, prefix, ext, metric, test_queries)
            rows = fit_and_replay(learn, test, query_arms(query, region))
        else:
            rows = fit_and_replay(learn, test, arms)
        base = rows["linear so-far"]
        cap = test.groupby("query")["recall"].last().mean()
        print(
            f"== {prefix} (cap recall {cap:.4f}): mean distance evaluations at test recall",
            TARGETS,
        )
        for label, works in rows.items():
            cells = [f"{w:7.0f} ({w / b:.3f})" if w and b else "      —" for w, b in zip(works, base)]
            print(f"{label:34s}", "  ".join(cells))
        if FRONTIER[0] in test and not test_queries:
            frontier_diagnosis(test)


if __name__ == "__main__":
    main()
