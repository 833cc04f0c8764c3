//! The least work any stopping rule could spend for a mean recall target, given each query's
//! trajectory at the cap beam width: how far the rules are from the best possible, and how much
//! of a gap to a target is the data's rather than the rule's.
//!
//! A search at a narrower beam expands a prefix of the cap search's expansion sequence (a
//! candidate the narrow beam drops is worse than its whole result set, so the cap search
//! reaches it only after the narrow one has ended). Stopping the cap trajectory at the best
//! point per query therefore bounds from below every rule that truncates the best-first order,
//! fixed ef included. With (work, recall) checkpoints per query, the optimum of
//! `min Σ work s.t. Σ recall ≥ T·N` over one checkpoint per query is bounded from below, as for
//! any separable knapsack, by its linear relaxation, solved on the lower convex hull: for a price
//! λ each query picks the checkpoint maximising `recall − λ·work`; bisection on λ brackets the
//! target and the two bracketing solutions are mixed to meet it exactly. At most one query is
//! split between two of its hull points, so the relaxation is below the true optimum by less
//! than that query's jump between them, over N — a valid lower bound, tight for many queries.

/// One query's trajectory: (distance evaluations, recall so far) at each checkpoint, in order.
pub type Trajectory = Vec<(f64, f64)>;

/// A lower bound (the linear relaxation) on the least mean work (distance evaluations per
/// query) at which mean recall reaches `target` by stopping each trajectory at one of its
/// checkpoints; `None` when even the best checkpoints fall short.
pub fn least_work(trajectories: &[Trajectory], target: f64) -> Option<f64> {
    let n = trajectories.len() as f64;
    let at_price = |price: f64| -> (f64, f64) {
        let (mut work, mut recall) = (0.0, 0.0);
        for t in trajectories {
            let best = t
                .iter()
                .copied()
                .max_by(|a, b| {
                    (a.1 - price * a.0)
                        .total_cmp(&(b.1 - price * b.0))
                        .then(b.0.total_cmp(&a.0))
                })
                .unwrap_or((0.0, 0.0));
            work += best.0;
            recall += best.1;
        }
        (work / n, recall / n)
    };
    if at_price(0.0).1 < target - 1e-12 {
        return None;
    }
    // Price 0: the most recall; a high price: the least work. Bisection in log space.
    let (mut cheap, mut rich) = (1.0f64, 0.0f64);
    while at_price(cheap).1 >= target {
        if cheap > 1e9 {
            return Some(at_price(cheap).0);
        }
        cheap *= 2.0;
    }
    for _ in 0..100 {
        let mid = if rich == 0.0 {
            cheap / 2.0
        } else {
            (cheap * rich).sqrt()
        };
        if at_price(mid).1 >= target {
            rich = mid;
        } else {
            cheap = mid;
        }
        if rich > 0.0 && cheap / rich < 1.0 + 1e-9 {
            break;
        }
    }
    let ((w_rich, r_rich), (w_cheap, r_cheap)) = (at_price(rich), at_price(cheap));
    if r_rich - r_cheap <= 1e-12 {
        return Some(w_rich);
    }
    Some(w_cheap + (target - r_cheap) / (r_rich - r_cheap) * (w_rich - w_cheap))
}

/// [`least_work`] for rules held to a work budget (`learn-stop --work-cap`, issue 17's p99
/// target): each trajectory keeps its checkpoints up to the first at or beyond `budget`
/// distance evaluations — where a budget stops a search, after the expansion that crosses it —
/// so no query is stopped later than a budgeted rule could stop it. A lower bound on the mean
/// work of every truncating rule whose searches all end at the budget (with the budget at
/// fixed ef's 99th-percentile work: every rule whose p99 work is no worse than fixed ef's by
/// way of a budget); `None` when the budget leaves the target out of reach.
pub fn least_work_within(trajectories: &[Trajectory], target: f64, budget: f64) -> Option<f64> {
    let within: Vec<Trajectory> = trajectories
        .iter()
        .map(|t| {
            let crossing = t.iter().position(|p| p.0 >= budget).map_or(t.len(), |i| i + 1);
            t[..crossing].to_vec()
        })
        .collect();
    least_work(&within, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three random trajectories of four checkpoints each.
    fn random_case(rng: &mut geodex_testkit::Rng) -> Vec<Trajectory> {
        (0..3)
            .map(|_| {
                let (mut w, mut r) = (0.0, 0.0);
                (0..4)
                    .map(|_| {
                        w += 1.0 + rng.below(10) as f64;
                        r = (r + rng.below(5) as f64 / 10.0).min(1.0);
                        (w, r)
                    })
                    .collect()
            })
            .collect()
    }

    /// The exact optimum by brute force over every combination of stopping points, a query
    /// allowed to stop at a checkpoint only if every checkpoint before it lies under `budget`.
    fn exhaustive(trajectories: &[Trajectory], target: f64, budget: f64) -> Option<f64> {
        let allowed = |t: &Trajectory, i: usize| t[..i].iter().all(|p| p.0 < budget);
        let mut best: Option<f64> = None;
        for i in 0..4 {
            for j in 0..4 {
                for k in 0..4 {
                    let picks = [(0, i), (1, j), (2, k)];
                    if !picks.iter().all(|&(q, c)| allowed(&trajectories[q], c)) {
                        continue;
                    }
                    let p = picks.map(|(q, c)| trajectories[q][c]);
                    if p.iter().map(|x| x.1).sum::<f64>() / 3.0 >= target - 1e-12 {
                        let w = p.iter().map(|x| x.0).sum::<f64>() / 3.0;
                        best = Some(best.map_or(w, |b: f64| b.min(w)));
                    }
                }
            }
        }
        best
    }

    /// `got` is a valid lower bound on the exact optimum `best`, below it by less than one
    /// query's jump between two of its points, over 3 queries.
    fn assert_relaxation_of(best: Option<f64>, got: Option<f64>, trajectories: &[Trajectory], case: usize) {
        match (best, got) {
            (None, None) => {}
            (Some(b), Some(g)) => {
                let jump = trajectories.iter().map(|t| t[3].0 - t[0].0).fold(0.0, f64::max);
                assert!(g <= b + 1e-6, "case {case}: {g} above the optimum {b}");
                assert!(g >= b - jump / 3.0 - 1e-6, "case {case}: {g} vs {b}");
            }
            other => panic!("case {case}: {other:?}"),
        }
    }

    /// Against brute force over every combination of stopping points.
    #[test]
    fn matches_exhaustive_search_on_small_cases() {
        let mut rng = geodex_testkit::Rng::new(9);
        for case in 0..200 {
            let trajectories = random_case(&mut rng);
            let target = 0.2 + 0.5 * rng.uniform();
            let best = exhaustive(&trajectories, target, f64::INFINITY);
            assert_relaxation_of(best, least_work(&trajectories, target), &trajectories, case);
        }
    }

    /// Against brute force with a budget, which must bind in some cases: the target out of
    /// reach within it, and more work than without it.
    #[test]
    fn a_budget_matches_exhaustive_search_and_binds() {
        let mut rng = geodex_testkit::Rng::new(10);
        let (mut unreachable, mut costlier) = (0, 0);
        for case in 0..400 {
            let trajectories = random_case(&mut rng);
            let target = 0.2 + 0.5 * rng.uniform();
            let budget = 1.0 + rng.below(30) as f64;
            let best = exhaustive(&trajectories, target, budget);
            let got = least_work_within(&trajectories, target, budget);
            assert_relaxation_of(best, got, &trajectories, case);
            let free = exhaustive(&trajectories, target, f64::INFINITY);
            unreachable += usize::from(best.is_none() && free.is_some());
            costlier += usize::from(best.zip(free).is_some_and(|(b, f)| b > f + 1e-9));
        }
        assert!(unreachable > 0 && costlier > 0, "{unreachable} {costlier}");
    }

    #[test]
    fn identical_queries_stop_at_the_first_point_meeting_the_target() {
        let t: Trajectory = vec![(10.0, 0.5), (20.0, 0.8), (40.0, 0.95), (80.0, 1.0)];
        assert_eq!(least_work(&[t.clone(), t.clone()], 0.8), Some(20.0));
        assert_eq!(least_work(std::slice::from_ref(&t), 1.0), Some(80.0));
        assert_eq!(least_work(&[t], 1.01), None);
    }
}
