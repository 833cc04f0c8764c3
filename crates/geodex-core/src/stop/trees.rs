//! The gradient-boosted trees of the `gbdt` stopping rule (issue 17 (d); DARTH, Chatzakis et
//! al. SIGMOD 2026, predicts the recall so far with gradient-boosted trees; LAET, Li et al.
//! SIGMOD 2020, the work a query needs): a sum of trees on the stopping features, read as a
//! logit. `geodex-adaptive::gbdt` trains them; this module only evaluates and validates them.
//!
//! The trees are *oblivious* (CatBoost; Prokhorenkova et al., NeurIPS 2018): every node of a
//! level splits on the same feature at the same threshold, so a tree of depth D is D
//! (feature, threshold) pairs and 2^D leaves, and the leaf is the bit pattern of D comparisons
//! that do not depend on each other — no pointer chase, which is what a check inside the search
//! loop can afford (complete trees with a split per node, measured first, slowed the searches
//! more than they saved; ADAPTIVE.md). A level the trainer did not split has threshold
//! `f32::MAX` (the model is stored as JSON, which has no ∞): every finite value (and NaN) gives
//! bit 0 there. A check costs `trees × depth` comparisons.

use serde::{Deserialize, Serialize};

/// Deepest tree a model may hold (2⁸ leaves per tree).
pub const MAX_DEPTH: u32 = 8;

/// Most features a forest may split on: inputs are padded to this many lanes so that a split's
/// feature index needs no bounds check.
pub const MAX_FEATURES: usize = 16;

/// A trained forest: `σ(base + Σ_t leaf_t(x))` estimates a fraction — the recall so far (the
/// gbdt rule) or the recall still to come over the next checks (the gain rule).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    /// Depth of every tree (1..=[`MAX_DEPTH`]).
    pub depth: u32,
    /// The initial logit (of the mean target).
    pub base: f32,
    /// Per tree, per level (root first), the split feature (an index into the features).
    pub features: Vec<u8>,
    /// Per tree, per level, the split threshold: bit `level` of the leaf index is
    /// `feature > threshold`.
    pub thresholds: Vec<f32>,
    /// Per tree, its `2^depth` leaf values (logit increments, the learning rate applied).
    pub leaves: Vec<f32>,
}

impl Forest {
    /// Number of trees.
    pub fn trees(&self) -> usize {
        self.leaves.len() >> self.depth
    }

    /// The leaf of tree `t` that `x` falls in.
    #[inline]
    pub fn leaf(&self, t: usize, x: &[f32]) -> usize {
        let d = self.depth as usize;
        let (features, thresholds) = (&self.features[t * d..][..d], &self.thresholds[t * d..][..d]);
        features
            .iter()
            .zip(thresholds)
            .enumerate()
            .fold(0, |leaf, (level, (&f, &th))| {
                leaf | usize::from(x[f as usize] > th) << level
            })
    }

    /// The summed logit at `x`. The trees' leaves are summed into four accumulators (one
    /// float-add chain per tree would make the sum, not the comparisons, the critical path),
    /// `x` (at most [`MAX_FEATURES`] long) is padded to that many lanes so that a feature index
    /// needs no bounds check, and the common depths are unrolled at compile time.
    #[inline]
    pub fn logit(&self, x: &[f32]) -> f32 {
        let mut lanes = [0f32; MAX_FEATURES];
        let n = x.len().min(MAX_FEATURES);
        lanes[..n].copy_from_slice(&x[..n]);
        match self.depth {
            2 => self.logit_at::<2>(&lanes),
            3 => self.logit_at::<3>(&lanes),
            4 => self.logit_at::<4>(&lanes),
            5 => self.logit_at::<5>(&lanes),
            6 => self.logit_at::<6>(&lanes),
            _ => self.logit_any(&lanes),
        }
    }

    /// [`Forest::logit`] for trees of depth `D` (= `self.depth`).
    #[inline]
    fn logit_at<const D: usize>(&self, lanes: &[f32; MAX_FEATURES]) -> f32 {
        let mut acc = [0f32; 4];
        let trees = self
            .features
            .chunks_exact(D)
            .zip(self.thresholds.chunks_exact(D))
            .zip(self.leaves.chunks_exact(1 << D));
        for (t, ((features, thresholds), leaves)) in trees.enumerate() {
            let mut leaf = 0usize;
            for level in 0..D {
                leaf |=
                    usize::from(lanes[usize::from(features[level]) & (MAX_FEATURES - 1)] > thresholds[level])
                        << level;
            }
            acc[t & 3] += leaves[leaf & ((1 << D) - 1)];
        }
        self.base + (acc[0] + acc[1]) + (acc[2] + acc[3])
    }

    /// [`Forest::logit`] for any depth.
    fn logit_any(&self, lanes: &[f32; MAX_FEATURES]) -> f32 {
        let (d, width) = (self.depth as usize, 1usize << self.depth);
        let trees = self
            .features
            .chunks_exact(d)
            .zip(self.thresholds.chunks_exact(d))
            .zip(self.leaves.chunks_exact(width));
        let sum: f32 =
            trees
                .map(|((features, thresholds), leaves)| {
                    let leaf = features.iter().zip(thresholds).enumerate().fold(
                        0usize,
                        |leaf, (level, (&f, &th))| {
                            leaf | usize::from(lanes[usize::from(f) & (MAX_FEATURES - 1)] > th) << level
                        },
                    );
                    leaves[leaf & (width - 1)]
                })
                .sum();
        self.base + sum
    }

    /// The predicted fraction at `x`, in (0, 1).
    #[inline]
    pub fn predict(&self, x: &[f32]) -> f32 {
        1.0 / (1.0 + (-self.logit(x)).exp())
    }

    /// Checks that the arrays describe whole trees of `depth` on the first `known` features
    /// (≤ [`MAX_FEATURES`]), with finite leaves and thresholds; the reason when not.
    pub fn check(&self, known: usize) -> Result<(), String> {
        if !(1..=MAX_DEPTH).contains(&self.depth) {
            return Err(format!("tree depth {} outside 1..={MAX_DEPTH}", self.depth));
        }
        let (levels, leaves) = (self.depth as usize, 1usize << self.depth);
        let trees = self.leaves.len() / leaves;
        if !self.leaves.len().is_multiple_of(leaves)
            || self.features.len() != trees * levels
            || self.thresholds.len() != trees * levels
        {
            return Err(format!(
                "{} leaves, {} features and {} thresholds are not whole trees of depth {}",
                self.leaves.len(),
                self.features.len(),
                self.thresholds.len(),
                self.depth
            ));
        }
        if self
            .features
            .iter()
            .any(|&f| f as usize >= known.min(MAX_FEATURES))
        {
            return Err(format!("a split on a feature beyond the {known} known"));
        }
        if !self.base.is_finite()
            || self.leaves.iter().any(|v| !v.is_finite())
            || self.thresholds.iter().any(|t| !t.is_finite())
        {
            return Err("non-finite leaves, base or thresholds".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stop::FEATURES;

    /// One tree of depth 2 by hand: level 0 on feature 0 at 1, level 1 on feature 1 at 0;
    /// a second tree whose second level is unsplit (`f32::MAX`). Each input lands in the leaf
    /// the bits give.
    #[test]
    fn a_hand_built_tree_routes_each_input_to_its_leaf() {
        let forest = Forest {
            depth: 2,
            base: 0.5,
            features: vec![0, 1, 2, 3],
            thresholds: vec![1.0, 0.0, 0.0, f32::MAX],
            leaves: vec![-1.0, -2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0],
        };
        forest.check(FEATURES).unwrap();
        assert_eq!(forest.trees(), 2);
        let x = |a: f32, b: f32, c: f32| {
            let mut v = [0f32; FEATURES];
            v[0] = a;
            v[1] = b;
            v[2] = c;
            v[3] = 1e30;
            v
        };
        // First tree: bit 0 = a > 1, bit 1 = b > 0. Second: bit 0 = c > 0, bit 1 never.
        assert_eq!(forest.leaf(0, &x(0.5, -1.0, 0.0)), 0);
        assert_eq!(forest.leaf(0, &x(1.5, -1.0, 0.0)), 1);
        assert_eq!(forest.leaf(0, &x(1.0, 0.5, 0.0)), 2);
        assert_eq!(forest.leaf(0, &x(2.0, 5.0, 0.0)), 3);
        assert_eq!(forest.leaf(1, &x(0.0, 0.0, 1.0)), 1);
        assert_eq!(forest.logit(&x(2.0, 5.0, 1.0)), 0.5 + 4.0 + 20.0);
        assert_eq!(forest.logit(&x(0.0, 0.0, -1.0)), 0.5 - 1.0 + 10.0);
        let p = forest.predict(&x(0.5, -1.0, -1.0));
        assert!((p - 1.0 / (1.0 + (-9.5f32).exp())).abs() < 1e-6);
    }

    #[test]
    fn malformed_forests_are_refused() {
        let good = Forest {
            depth: 1,
            base: 0.0,
            features: vec![0],
            thresholds: vec![0.0],
            leaves: vec![0.0, 1.0],
        };
        assert!(good.check(FEATURES).is_ok());
        let bad = [
            Forest {
                depth: 0,
                ..good.clone()
            },
            Forest {
                depth: MAX_DEPTH + 1,
                ..good.clone()
            },
            Forest {
                leaves: vec![0.0, 1.0, 2.0],
                ..good.clone()
            },
            Forest {
                features: vec![FEATURES as u8],
                ..good.clone()
            },
            Forest {
                thresholds: vec![f32::NAN],
                ..good.clone()
            },
            Forest {
                thresholds: vec![f32::INFINITY],
                ..good.clone()
            },
            Forest {
                leaves: vec![0.0, f32::INFINITY],
                ..good.clone()
            },
            Forest {
                base: f32::NAN,
                ..good.clone()
            },
        ];
        for f in bad {
            assert!(f.check(FEATURES).is_err(), "{f:?}");
        }
    }
}
