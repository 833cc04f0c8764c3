//! Gradient-boosted trees for the `gbdt` and `gain` stopping rules: a fraction in [0, 1] (the
//! recall so far, or the recall still to be gained over the next checks) predicted as
//! `σ(base + Σ trees)`, each tree fitted to the binomial log-likelihood's gradient and Hessian
//! at the current logits — second-order boosting (Friedman 2001;
//! XGBoost, Chen & Guestrin 2016, eq. 6–7 for the leaf weight `−G/(H + λ)` and the split gain)
//! on per-feature quantile histograms (LightGBM, Ke et al. 2017), grown as oblivious trees
//! (one split per level, CatBoost) so that the search loop evaluates them without a pointer
//! chase ([`Forest`]).
//!
//! Written here rather than taken from a crate: the trees must be oblivious trees of one depth
//! in the flat layout the search loop evaluates without pointers ([`Forest`]), stored in the
//! index's JSON section, and trained deterministically on fractional targets; the Rust
//! gradient-boosting crates fit their own tree shapes (leaf-wise, pointer-based) for 0/1 or
//! squared-error targets, and converting them would be more code than this trainer.

use geodex_core::stop::trees::{Forest, MAX_DEPTH, MAX_FEATURES};

/// The trainer's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct GbdtOptions {
    /// Number of trees (boosting rounds).
    pub trees: usize,
    /// Depth of every tree (1..=8); each check of the rule costs `trees × depth` comparisons.
    pub depth: u32,
    /// Shrinkage applied to every leaf.
    pub learning_rate: f32,
    /// Histogram bins per feature (2..=256).
    pub bins: usize,
    /// L2 penalty λ on leaf weights.
    pub lambda: f64,
    /// Smallest Hessian sum a child may hold (XGBoost's `min_child_weight`).
    pub min_child_hessian: f64,
}

impl Default for GbdtOptions {
    fn default() -> Self {
        GbdtOptions {
            trees: 100,
            depth: 4,
            learning_rate: 0.1,
            bins: 64,
            lambda: 1.0,
            min_child_hessian: 1.0,
        }
    }
}

impl GbdtOptions {
    /// The gain rule's default: 32 trees at rate 0.3, whose checks stay inside issue 17's 5 %
    /// inference budget (ADAPTIVE.md, "Trees in the loop").
    pub fn gain() -> Self {
        GbdtOptions {
            trees: 32,
            learning_rate: 0.3,
            ..GbdtOptions::default()
        }
    }

    /// The reason the settings cannot train a forest, if any.
    pub fn problem(&self) -> Option<String> {
        if self.trees == 0 || !(1..=MAX_DEPTH).contains(&self.depth) {
            return Some(format!(
                "trees must be ≥ 1 and depth in 1..={MAX_DEPTH} (got {} and {})",
                self.trees, self.depth
            ));
        }
        let usable = (2..=256).contains(&self.bins)
            && self.learning_rate > 0.0
            && self.learning_rate <= 1.0
            && self.lambda >= 0.0
            && self.min_child_hessian >= 0.0;
        if !usable {
            return Some("bins in 2..=256, learning rate in (0, 1], λ and min child Hessian ≥ 0".into());
        }
        None
    }
}

/// Fits a forest to `rows` of `N` (≤ [`MAX_FEATURES`]) inputs and a target fraction; `None`
/// when there are no rows or the options are unusable. Deterministic: no sampling.
pub fn fit<const N: usize>(rows: &[([f32; N], f32)], opts: &GbdtOptions) -> Option<Forest> {
    if rows.is_empty() || opts.problem().is_some() || N > MAX_FEATURES {
        return None;
    }
    let edges = bin_edges(rows, opts.bins);
    let binned = bin_rows(rows, &edges);
    let mean = rows.iter().map(|r| r.1 as f64).sum::<f64>() / rows.len() as f64;
    let mean = mean.clamp(1e-6, 1.0 - 1e-6);
    let base = (mean / (1.0 - mean)).ln();
    let mut logits = vec![base; rows.len()];
    let mut forest = Forest {
        depth: opts.depth,
        base: base as f32,
        features: Vec::new(),
        thresholds: Vec::new(),
        leaves: Vec::new(),
    };
    let mut grad = vec![(0.0f64, 0.0f64); rows.len()];
    let mut leaf_of = vec![0u32; rows.len()];
    for _ in 0..opts.trees {
        for ((gh, z), r) in grad.iter_mut().zip(&logits).zip(rows) {
            let p = 1.0 / (1.0 + (-z).exp());
            *gh = (p - r.1 as f64, (p * (1.0 - p)).max(1e-12));
        }
        let tree = grow(&binned, &edges, &grad, opts, &mut leaf_of);
        for (z, &leaf) in logits.iter_mut().zip(&leaf_of) {
            *z += tree.leaves[leaf as usize] as f64;
        }
        forest.features.extend(tree.features);
        forest.thresholds.extend(tree.thresholds);
        forest.leaves.extend(tree.leaves);
    }
    Some(forest)
}

/// One tree's arrays (see [`Forest`]).
struct Tree {
    features: Vec<u8>,
    thresholds: Vec<f32>,
    leaves: Vec<f32>,
}

/// Grows one oblivious tree of `opts.depth` level by level on the gradient pairs `grad`: each
/// level takes the one (feature, bin) split with the largest gain summed over the level's
/// nodes; `node` ends holding each row's leaf (bit `level` set where the row went right).
fn grow<const N: usize>(
    binned: &[[u8; N]],
    edges: &[Vec<f32>],
    grad: &[(f64, f64)],
    opts: &GbdtOptions,
    node: &mut [u32],
) -> Tree {
    let depth = opts.depth as usize;
    let mut tree = Tree {
        features: vec![0; depth],
        thresholds: vec![f32::MAX; depth],
        leaves: vec![0.0; 1 << depth],
    };
    node.fill(0);
    for level in 0..depth {
        let width = 1usize << level;
        // hist[node][feature][bin] = (Σg, Σh)
        let mut hist = vec![(0.0f64, 0.0f64); width * N * opts.bins];
        for ((b, &(g, h)), &n) in binned.iter().zip(grad).zip(node.iter()) {
            let base = n as usize * N * opts.bins;
            for (f, &bin) in b.iter().enumerate() {
                let cell = &mut hist[base + f * opts.bins + bin as usize];
                cell.0 += g;
                cell.1 += h;
            }
        }
        let Some((f, bin)) = best_split(&hist, width, edges, opts) else {
            continue;
        };
        tree.features[level] = f as u8;
        tree.thresholds[level] = edges[f][bin];
        for (n, b) in node.iter_mut().zip(binned) {
            *n |= u32::from(b[f] as usize > bin) << level;
        }
    }
    let mut sums = vec![(0.0f64, 0.0f64); 1 << depth];
    for (&n, &(g, h)) in node.iter().zip(grad) {
        sums[n as usize].0 += g;
        sums[n as usize].1 += h;
    }
    for (leaf, (g, h)) in tree.leaves.iter_mut().zip(sums) {
        *leaf = if h > 0.0 {
            (-g / (h + opts.lambda)) as f32 * opts.learning_rate
        } else {
            0.0
        };
    }
    tree
}

/// The (feature, bin) whose split "bins ≤ bin go left", applied to every one of the level's
/// `width` nodes, gains most in the second-order objective summed over them: per node
/// `G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)`, counted only where each side holds at least
/// `min_child_hessian`; `None` when no split gains. `hist` is laid out as
/// `[node][feature][bin]` over `edges.len()` features.
fn best_split(
    hist: &[(f64, f64)],
    width: usize,
    edges: &[Vec<f32>],
    opts: &GbdtOptions,
) -> Option<(usize, usize)> {
    let score = |g: f64, h: f64| g * g / (h + opts.lambda);
    let features = edges.len();
    let mut best: Option<(f64, usize, usize)> = None;
    for (f, feature_edges) in edges.iter().enumerate() {
        let mut gains = vec![0.0f64; feature_edges.len()];
        for n in 0..width {
            let cells = &hist[(n * features + f) * opts.bins..][..opts.bins];
            let (g, h) = cells.iter().fold((0.0, 0.0), |a, c| (a.0 + c.0, a.1 + c.1));
            let parent = score(g, h);
            let (mut gl, mut hl) = (0.0, 0.0);
            for (gain, c) in gains.iter_mut().zip(cells) {
                gl += c.0;
                hl += c.1;
                let hr = h - hl;
                if hl >= opts.min_child_hessian && hr >= opts.min_child_hessian {
                    *gain += score(gl, hl) + score(g - gl, hr) - parent;
                }
            }
        }
        for (bin, &gain) in gains.iter().enumerate() {
            if gain > 1e-12 && best.is_none_or(|(b, _, _)| gain > b) {
                best = Some((gain, f, bin));
            }
        }
    }
    best.map(|(_, f, bin)| (f, bin))
}

/// Per feature, up to `bins − 1` ascending distinct cut points at its quantiles: bin `b` holds
/// the values in `(edges[b − 1], edges[b]]`, the last bin those above every edge.
fn bin_edges<const N: usize>(rows: &[([f32; N], f32)], bins: usize) -> Vec<Vec<f32>> {
    (0..N)
        .map(|f| {
            let mut v: Vec<f32> = rows.iter().map(|r| r.0[f]).filter(|x| !x.is_nan()).collect();
            v.sort_by(f32::total_cmp);
            let mut e: Vec<f32> = (1..bins)
                .filter_map(|i| v.get(i * v.len() / bins).copied())
                .collect();
            e.dedup();
            // The largest value as an edge would leave the last bin empty.
            if e.last() == v.last() {
                e.pop();
            }
            e
        })
        .collect()
}

/// Each row's bin per feature (NaN in bin 0, as the evaluator sends it left).
fn bin_rows<const N: usize>(rows: &[([f32; N], f32)], edges: &[Vec<f32>]) -> Vec<[u8; N]> {
    rows.iter()
        .map(|r| {
            let mut b = [0u8; N];
            for (f, slot) in b.iter_mut().enumerate() {
                let x = r.0[f];
                *slot = if x.is_nan() {
                    0
                } else {
                    edges[f].partition_point(|&e| e < x) as u8
                };
            }
            b
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::Row;
    use geodex_core::stop::FEATURES;

    fn rows_of(n: usize, seed: u64, target: impl Fn(&[f32; FEATURES]) -> f32) -> Vec<Row> {
        let mut rng = geodex_testkit::Rng::new(seed);
        (0..n)
            .map(|_| {
                let mut f = [0f32; FEATURES];
                for v in f.iter_mut() {
                    *v = rng.uniform() as f32;
                }
                let y = target(&f);
                (f, y)
            })
            .collect()
    }

    fn mean_abs_error(forest: &Forest, rows: &[Row]) -> f64 {
        rows.iter()
            .map(|(x, y)| (forest.predict(x) - y).abs() as f64)
            .sum::<f64>()
            / rows.len() as f64
    }

    /// A step in one feature and an interaction of two (an XOR of halves, which no linear
    /// model can hold): trees fitted on one sample predict a fresh sample closely, and the
    /// forest the search loop evaluates gives the trainer's own logits.
    #[test]
    fn trees_learn_a_step_and_an_interaction() {
        let target = |x: &[f32; FEATURES]| {
            let xor = (x[1] > 0.5) != (x[2] > 0.5);
            0.1 + 0.5 * f32::from(x[0] > 0.3) + 0.3 * f32::from(xor)
        };
        let (train, test) = (rows_of(20_000, 1, target), rows_of(5_000, 2, target));
        let forest = fit(&train, &GbdtOptions::default()).unwrap();
        forest.check(FEATURES).unwrap();
        assert_eq!(forest.trees(), 100);
        let err = mean_abs_error(&forest, &test);
        assert!(err < 0.03, "mean absolute error {err}");
        let mean = test.iter().map(|r| r.1 as f64).sum::<f64>() / test.len() as f64;
        let constant = test.iter().map(|r| (r.1 as f64 - mean).abs()).sum::<f64>() / test.len() as f64;
        assert!(err < constant / 5.0, "{err} against the constant's {constant}");
        // The logistic regression of fit.rs cannot hold the interaction.
        let linear = crate::fit::fit(&train).unwrap();
        let linear_err = test
            .iter()
            .map(|(x, y)| {
                let z = linear.weights[0]
                    + (0..FEATURES)
                        .map(|j| linear.weights[j + 1] * (x[j] - linear.scale[j].0) / linear.scale[j].1)
                        .sum::<f32>();
                (1.0 / (1.0 + (-z).exp()) - y).abs() as f64
            })
            .sum::<f64>()
            / test.len() as f64;
        assert!(linear_err > 2.0 * err, "linear {linear_err} vs trees {err}");
    }

    /// Every boosting round lowers the training log-loss (each tree is a Newton step with a
    /// shrunk leaf), and the same rows give the same forest.
    #[test]
    fn each_round_lowers_the_training_loss_and_training_is_deterministic() {
        let rows = rows_of(3_000, 5, |x| (x[0] * x[3]).clamp(0.0, 1.0));
        let loss = |forest: &Forest| -> f64 {
            rows.iter()
                .map(|(x, y)| {
                    let p = forest.predict(x).clamp(1e-7, 1.0 - 1e-7) as f64;
                    -(*y as f64 * p.ln() + (1.0 - *y as f64) * (1.0 - p).ln())
                })
                .sum::<f64>()
        };
        let mut previous = f64::INFINITY;
        for trees in [1, 2, 5, 10, 20] {
            let opts = GbdtOptions {
                trees,
                depth: 3,
                ..GbdtOptions::default()
            };
            let forest = fit(&rows, &opts).unwrap();
            let l = loss(&forest);
            assert!(l < previous, "{trees} trees: loss {l} ≥ {previous}");
            previous = l;
            assert_eq!(fit(&rows, &opts).unwrap(), forest);
        }
    }

    #[test]
    fn constant_targets_and_bad_options() {
        let rows: Vec<Row> = (0..500).map(|i| ([i as f32; FEATURES], 0.25)).collect();
        let forest = fit(&rows, &GbdtOptions::default()).unwrap();
        for (x, _) in &rows {
            assert!((forest.predict(x) - 0.25).abs() < 1e-4);
        }
        assert!(fit::<FEATURES>(&[], &GbdtOptions::default()).is_none());
        for bad in [
            GbdtOptions {
                trees: 0,
                ..GbdtOptions::default()
            },
            GbdtOptions {
                depth: 9,
                ..GbdtOptions::default()
            },
            GbdtOptions {
                bins: 1,
                ..GbdtOptions::default()
            },
            GbdtOptions {
                learning_rate: 0.0,
                ..GbdtOptions::default()
            },
            GbdtOptions {
                lambda: f64::NAN,
                ..GbdtOptions::default()
            },
        ] {
            assert!(bad.problem().is_some(), "{bad:?}");
            assert!(fit(&rows, &bad).is_none());
        }
    }

    /// Binning: each value's bin is the one whose edges enclose it, and the threshold of a
    /// split at bin b sends exactly the values of bins ≤ b left.
    #[test]
    fn bins_agree_with_thresholds() {
        let rows = rows_of(1_000, 9, |_| 0.5);
        let edges = bin_edges(&rows, 16);
        let binned = bin_rows(&rows, &edges);
        for f in 0..FEATURES {
            assert!(edges[f].windows(2).all(|w| w[0] < w[1]));
            assert!(edges[f].len() <= 15);
            for (r, b) in rows.iter().zip(&binned) {
                for (bin, &edge) in edges[f].iter().enumerate() {
                    assert_eq!(r.0[f] <= edge, b[f] as usize <= bin);
                }
            }
        }
    }
}
