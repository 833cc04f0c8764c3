//! Each stopping rule's per-query latency against fixed ef's, with the machine's noise taken
//! out (issue 17's p99 target: "p99 latency no worse than fixed ef's"):
//!
//! ```text
//! cargo run --release -p geodex-adaptive --example tail_latency -- INDEX QUERIES GROUNDTRUTH [TARGETS] [RULES] [REPEATS]
//! ```
//!
//! The index must hold a stop model (`geodex learn-stop`). For each target (default
//! 0.9,0.95,0.99), REPEATS rounds (default 9) each run one pass over all queries per variant —
//! fixed ef and each rule of RULES (default patience,learned,gbdt) — in a rotating order on this
//! thread, every search timed alone, and each (query, variant) keeps its fastest time over the
//! rounds. An interrupt or a descheduling lands in one round, not in the minimum (a pass of
//! `geodex bench` times each query once, so its p99 over 1,000 queries, the tenth slowest, is
//! often one such event), while every search still runs after the other queries, as in a
//! stream: repeating one query back to back would find its nodes in the cache and time a
//! search 4–5× faster than any stream runs it.
//! Reported per (target, variant): mean recall@k against GROUNDTRUTH, mean and p99 distance
//! evaluations, the mean, median and 99th percentile (nearest rank) of the per-query minima,
//! the mean time per distance evaluation (ns), and the mean and p99 latencies ÷ fixed ef's.

mod common;

use std::hint::black_box;
use std::time::Instant;

use geodex_adaptive::evaluate::recall;
use geodex_core::{AnyIndex, Component, Index, SearchContext, SearchParams, StopKind, StopModel, StopRule};
use geodex_io::AnyVectors;

fn main() -> Result<(), common::Failure> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: tail_latency INDEX QUERIES GROUNDTRUTH [TARGETS] [RULES] [REPEATS]".into());
    }
    let truth = common::truth(&args[3])?;
    let targets = common::targets(args.get(4))?;
    let rules = common::list(args.get(5), "patience,learned,gbdt", Variant::parse)?;
    let repeats: usize = args.get(6).map_or(Ok(9), |s| s.parse())?;
    if repeats == 0 {
        return Err("REPEATS must be at least 1".into());
    }
    let run = Run {
        truth: &truth,
        targets: &targets,
        rules: &rules,
        repeats,
    };
    match common::index_and_queries(&args[1], &args[2])? {
        (AnyIndex::F32(ix), AnyVectors::F32(q)) => run.report(&ix, q.as_slice()),
        (AnyIndex::U8(ix), AnyVectors::U8(q)) => run.report(&ix, q.as_slice()),
        _ => Err("the queries' element type differs from the index's".into()),
    }
}

struct Run<'a> {
    truth: &'a [Vec<u64>],
    targets: &'a [f64],
    rules: &'a [Variant],
    repeats: usize,
}

/// What a variant runs at a target: a rule as calibrated, or one of two searches that take the
/// adaptive path apart — `wide`, fixed ef at the beam width the learned rule runs at (the wider
/// beam alone), and `wide-checks`, the learned rule at that beam with a threshold it never
/// reaches (the beam, every hook and every check, never stopping: the same searches as `wide`).
#[derive(Clone, Copy)]
enum Variant {
    Rule(StopKind),
    Wide,
    WideChecks,
}

impl Variant {
    fn parse(name: &str) -> Result<Variant, String> {
        match name {
            "wide" => Ok(Variant::Wide),
            "wide-checks" => Ok(Variant::WideChecks),
            _ => StopKind::parse(name)
                .map(Variant::Rule)
                .ok_or_else(|| format!("no stopping rule or variant named {name}")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Variant::Rule(kind) => kind.name(),
            Variant::Wide => "wide",
            Variant::WideChecks => "wide-checks",
        }
    }

    fn rule<'m>(self, model: &'m StopModel, target: f64) -> Result<StopRule<'m>, common::Failure> {
        let kind = match self {
            Variant::Rule(kind) => return Ok(StopRule::new(model, kind, target)?),
            Variant::Wide => StopKind::Fixed,
            Variant::WideChecks => StopKind::Learned,
        };
        let beam = StopRule::new(model, StopKind::Learned, target)?.beam_width();
        let mut knobs = model.calibration[0].clone();
        knobs.fixed_ef = beam;
        knobs.beam = beam;
        knobs.threshold = f32::INFINITY;
        knobs.budget = None;
        Ok(StopRule::with_knobs(model, kind, &knobs))
    }
}

/// One variant's outcome on every query: recall@k, distance evaluations, fastest time in µs.
#[derive(Clone, Copy, Default)]
struct Query {
    recall: f64,
    distances: u64,
    micros: f64,
}

/// The value at quantile `q` (nearest rank) of `xs`.
fn quantile(mut xs: Vec<f64>, q: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let rank = (q * xs.len() as f64).ceil() as usize;
    xs[rank.clamp(1, xs.len()) - 1]
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (n, s) = xs.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    s / n.max(1) as f64
}

impl Run<'_> {
    fn report<T: Component>(&self, index: &Index<T>, queries: &[T]) -> Result<(), common::Failure> {
        let model = index
            .stop_model()
            .ok_or("the index has no stop model: run geodex learn-stop")?;
        let k = model.k;
        println!(
            "target  variant  recall  mean_dist  p99_dist  mean_us  p50_us  p99_us  ns/dist  mean/fixed  p99/fixed"
        );
        for &target in self.targets {
            let kinds: Vec<Variant> = std::iter::once(Variant::Rule(StopKind::Fixed))
                .chain(self.rules.iter().copied())
                .collect();
            let rules: Vec<StopRule<'_>> = kinds
                .iter()
                .map(|v| v.rule(model, target))
                .collect::<Result<_, _>>()?;
            let params: Vec<SearchParams<'_>> = rules
                .iter()
                .map(|rule| SearchParams {
                    stop: Some(rule),
                    ..SearchParams::new(k, k)
                })
                .collect();
            let mut ctx = SearchContext::new();
            let n = queries.len() / index.dim();
            let mut per = vec![vec![Query::default(); n]; kinds.len()];
            for (v, p) in params.iter().enumerate() {
                for (i, q) in queries.chunks_exact(index.dim()).enumerate() {
                    let (hits, stats) = index.search(q, p, &mut ctx)?;
                    per[v][i] = Query {
                        recall: recall(hits.iter().map(|h| h.key.0), &self.truth[i], k),
                        distances: stats.distances,
                        micros: f64::INFINITY,
                    };
                }
            }
            for round in 0..self.repeats {
                for j in 0..kinds.len() {
                    let v = (j + round) % kinds.len();
                    for (i, q) in queries.chunks_exact(index.dim()).enumerate() {
                        let start = Instant::now();
                        black_box(index.search(black_box(q), &params[v], &mut ctx)?);
                        let us = start.elapsed().as_secs_f64() * 1e6;
                        per[v][i].micros = per[v][i].micros.min(us);
                    }
                }
            }
            let latency = |p: &[Query], q: f64| quantile(p.iter().map(|x| x.micros).collect(), q);
            let (fixed_mean, fixed_p99) = (mean(per[0].iter().map(|x| x.micros)), latency(&per[0], 0.99));
            for (kind, p) in kinds.iter().zip(&per) {
                let mean_us = mean(p.iter().map(|x| x.micros));
                let p99_us = latency(p, 0.99);
                let mean_dist = mean(p.iter().map(|x| x.distances as f64));
                println!(
                    "{target:>6} {:>8} {:>7.4} {mean_dist:>10.1} {:>9.0} {mean_us:>8.2} {:>7.2} {p99_us:>7.2} {:>8.1} {:>11.3} {:>10.3}",
                    kind.name(),
                    mean(p.iter().map(|x| x.recall)),
                    quantile(p.iter().map(|x| x.distances as f64).collect(), 0.99),
                    latency(p, 0.5),
                    1e3 * mean_us / mean_dist,
                    mean_us / fixed_mean,
                    p99_us / fixed_p99
                );
            }
        }
        Ok(())
    }
}
