//! The training loop of Nickel & Kiela (NeurIPS 2017), shared by every geometry so that a
//! comparison between them is at equal loss, sampler and budget.
//!
//! For a closure pair (u, v) and negatives N(u) — nodes neither ancestor nor descendant of u —
//! the loss is the softmax cross-entropy −log( e^{−d(u,v)} / Σ_{w ∈ {v} ∪ N(u)} e^{−d(u,w)} )
//! (eq. 7 of the paper). Its derivative in d(u, w) is 1 − p_v for the positive and −p_w for a
//! negative, with p the softmax of −d; the chain rule through [`Manifold::distance_grad`] gives
//! the gradients of u and of every candidate, and each takes a Riemannian SGD step.
//!
//! **Burn-in** (§3.1 of the paper): the first epochs run at a reduced learning rate and draw
//! negatives in proportion to their degree in the closure, which settles the angular layout
//! before the points move outwards.
//!
//! **Threads** (Hogwild, Recht et al. 2011): every epoch's shuffled pairs are split among the
//! threads, which read and write the shared table without locks. The table is `AtomicU64`
//! holding `f64` bits with relaxed loads and stores — plain moves on x86-64, but no data race
//! in Rust's sense: a concurrent update may be lost or mixed component-wise, which Hogwild
//! tolerates because the pairs touch few rows each. One thread is exactly reproducible from the
//! seed; several threads are reproducible only up to that interleaving.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::hierarchy::Hierarchy;
use crate::manifold::{Flat, Hyperboloid, Manifold, Model, PoincareBall};
use crate::EmbedError;

/// Training settings. [`TrainParams::new`] gives the paper's defaults.
#[derive(Clone, Debug)]
pub struct TrainParams {
    /// Embedding dimension (of the written vectors; Lorentz stores one more coordinate).
    pub dim: usize,
    /// Passes over the closure pairs, burn-in included.
    pub epochs: usize,
    /// Learning rate after burn-in.
    pub lr: f64,
    /// Negatives per pair.
    pub negatives: usize,
    /// Epochs of burn-in.
    pub burn_in: usize,
    /// The burn-in learning rate is `lr · burn_in_factor` (the paper: 1/10).
    pub burn_in_factor: f64,
    /// Hogwild threads (1: exactly reproducible).
    pub threads: usize,
    /// Seed of the initial points, the pair order and the negatives.
    pub seed: u64,
    /// Checked before every epoch: once set, training stops with [`EmbedError::Cancelled`].
    pub cancel: Option<Arc<AtomicBool>>,
}

impl TrainParams {
    /// The paper's settings at dimension `dim`: 50 negatives, 10 burn-in epochs at lr/10.
    pub fn new(dim: usize, epochs: usize, lr: f64) -> TrainParams {
        TrainParams {
            dim,
            epochs,
            lr,
            negatives: 50,
            burn_in: 10,
            burn_in_factor: 0.1,
            threads: 1,
            seed: 0,
            cancel: None,
        }
    }

    fn validate(&self) -> Result<(), EmbedError> {
        let bad = |m: &str| Err(EmbedError::InvalidParameter(m.into()));
        if self.dim == 0 {
            return bad("dim must be ≥ 1");
        }
        if self.negatives == 0 {
            return bad("negatives must be ≥ 1");
        }
        if self.threads == 0 {
            return bad("threads must be ≥ 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("the learning rate must be a positive number");
        }
        if !(self.burn_in_factor.is_finite() && self.burn_in_factor > 0.0) {
            return bad("the burn-in factor must be a positive number");
        }
        Ok(())
    }
}

/// A trained embedding: one written vector per hierarchy node (ids as in [`Hierarchy`]).
#[derive(Clone, Debug)]
pub struct Trained {
    /// Dimension of each vector.
    pub dim: usize,
    /// Row-major vectors, `dim` per node (ball coordinates for the hyperbolic models).
    pub vectors: Vec<f32>,
    /// Mean loss per pair of every epoch.
    pub losses: Vec<f64>,
}

/// Trains `model` on the closure pairs of `hierarchy`. `progress` is called after every epoch
/// with the epoch number (from 1) and its mean loss. [`Model::Sarkar`] is not trained: use
/// [`crate::sarkar`].
pub fn train(
    hierarchy: &Hierarchy,
    model: Model,
    params: &TrainParams,
    progress: &(dyn Fn(usize, f64) + Sync),
) -> Result<Trained, EmbedError> {
    params.validate()?;
    match model {
        Model::Poincare => Trainer::new(hierarchy, PoincareBall, params).run(progress),
        Model::Lorentz => Trainer::new(hierarchy, Hyperboloid, params).run(progress),
        Model::Euclidean => Trainer::new(hierarchy, Flat, params).run(progress),
        Model::Sarkar => Err(EmbedError::InvalidParameter(
            "sarkar is a construction, not a trained model".into(),
        )),
    }
}

/// The shared point table, one row of `coords` `f64`s per node, updated Hogwild-style.
struct Table {
    cells: Vec<AtomicU64>,
    coords: usize,
}

impl Table {
    fn load(&self, node: u32, out: &mut [f64]) {
        let row = &self.cells[node as usize * self.coords..][..self.coords];
        for (o, c) in out.iter_mut().zip(row) {
            *o = f64::from_bits(c.load(Ordering::Relaxed));
        }
    }

    fn store(&self, node: u32, values: &[f64]) {
        let row = &self.cells[node as usize * self.coords..][..self.coords];
        for (c, v) in row.iter().zip(values) {
            c.store(v.to_bits(), Ordering::Relaxed);
        }
    }
}

/// A degree-proportional sampler (cumulative weights, binary search).
struct DegreeSampler {
    cumulative: Vec<u64>,
}

impl DegreeSampler {
    fn new(hierarchy: &Hierarchy) -> DegreeSampler {
        let mut degree = vec![0u64; hierarchy.len()];
        for &(c, a) in hierarchy.pairs() {
            degree[c as usize] += 1;
            degree[a as usize] += 1;
        }
        let cumulative = degree
            .iter()
            .scan(0u64, |acc, &d| {
                *acc += d;
                Some(*acc)
            })
            .collect();
        DegreeSampler { cumulative }
    }

    fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> u32 {
        let total = *self.cumulative.last().expect("a hierarchy has nodes");
        let x = rng.next_u64() % total;
        self.cumulative.partition_point(|&c| c <= x) as u32
    }
}

struct Trainer<'h, M> {
    hierarchy: &'h Hierarchy,
    manifold: M,
    params: &'h TrainParams,
    table: Table,
    degrees: DegreeSampler,
}

/// Per-thread buffers for one pair's candidates.
struct Scratch {
    u: Vec<f64>,
    grad_u: Vec<f64>,
    /// ∂d(u, wᵢ)/∂u per candidate.
    grads_u: Vec<f64>,
    candidates: Vec<u32>,
    points: Vec<f64>,
    /// ∂d(u, wᵢ)/∂wᵢ per candidate, then the candidate's step direction.
    grads: Vec<f64>,
    distances: Vec<f64>,
}

impl<'h, M: Manifold> Trainer<'h, M> {
    fn new(hierarchy: &'h Hierarchy, manifold: M, params: &'h TrainParams) -> Self {
        let coords = manifold.coords(params.dim);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
        let mut noise = vec![0.0; params.dim];
        let mut point = vec![0.0; coords];
        let mut cells = Vec::with_capacity(hierarchy.len() * coords);
        for _ in 0..hierarchy.len() {
            noise.iter_mut().for_each(|n| *n = uniform(&mut rng) * 2.0 - 1.0);
            manifold.init(&noise, &mut point);
            cells.extend(point.iter().map(|p| AtomicU64::new(p.to_bits())));
        }
        Trainer {
            hierarchy,
            manifold,
            params,
            table: Table { cells, coords },
            degrees: DegreeSampler::new(hierarchy),
        }
    }

    fn run(self, progress: &(dyn Fn(usize, f64) + Sync)) -> Result<Trained, EmbedError> {
        let p = self.params;
        let mut order: Vec<u32> = (0..self.hierarchy.pairs().len() as u32).collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(p.seed ^ 0x5EED_0F0D_E5E5);
        let mut losses = Vec::with_capacity(p.epochs);
        for epoch in 0..p.epochs {
            if p.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(EmbedError::Cancelled);
            }
            shuffle(&mut order, &mut rng);
            let burn_in = epoch < p.burn_in;
            let lr = if burn_in { p.lr * p.burn_in_factor } else { p.lr };
            let chunk = order.len().div_ceil(p.threads);
            let thread_seeds: Vec<u64> = (0..p.threads).map(|_| rng.next_u64()).collect();
            let this = &self;
            let total: f64 = std::thread::scope(|s| {
                let handles: Vec<_> = order
                    .chunks(chunk)
                    .zip(&thread_seeds)
                    .map(|(pairs, &seed)| s.spawn(move || this.train_pairs(pairs, lr, burn_in, seed)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a training thread panicked"))
                    .sum()
            });
            let mean = total / order.len().max(1) as f64;
            losses.push(mean);
            progress(epoch + 1, mean);
        }
        Ok(self.finish(losses))
    }

    /// Trains on `pairs` (indices into the closure) and returns their summed loss.
    fn train_pairs(&self, pairs: &[u32], lr: f64, burn_in: bool, seed: u64) -> f64 {
        let coords = self.table.coords;
        let slots = self.params.negatives + 1;
        let mut s = Scratch {
            u: vec![0.0; coords],
            grad_u: vec![0.0; coords],
            grads_u: vec![0.0; slots * coords],
            candidates: Vec::with_capacity(slots),
            points: vec![0.0; slots * coords],
            grads: vec![0.0; slots * coords],
            distances: vec![0.0; slots],
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut loss = 0.0;
        for &pair in pairs {
            let (u, v) = self.hierarchy.pairs()[pair as usize];
            self.sample_candidates(u, v, burn_in, &mut rng, &mut s.candidates);
            loss += self.train_pair(u, lr, &mut s);
        }
        loss
    }

    /// Fills `out` with v followed by up to `negatives` nodes unrelated to u. Draws that hit u
    /// or a relative are redrawn, at most ten times per slot; a node with almost no unrelated
    /// nodes simply gets fewer negatives.
    fn sample_candidates(
        &self,
        u: u32,
        v: u32,
        burn_in: bool,
        rng: &mut Xoshiro256PlusPlus,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        out.push(v);
        let n = self.hierarchy.len() as u64;
        let mut tries = 10 * self.params.negatives;
        while out.len() <= self.params.negatives && tries > 0 {
            tries -= 1;
            let w = if burn_in {
                self.degrees.sample(rng)
            } else {
                (rng.next_u64() % n) as u32
            };
            if w != u && !self.hierarchy.related(u, w) {
                out.push(w);
            }
        }
    }

    /// One SGD step on the pair (u, candidates[0]) against the negatives candidates[1..];
    /// returns the pair's loss, −log p₀.
    fn train_pair(&self, u: u32, lr: f64, s: &mut Scratch) -> f64 {
        let coords = self.table.coords;
        self.table.load(u, &mut s.u);
        for (i, &w) in s.candidates.iter().enumerate() {
            let slot = i * coords..(i + 1) * coords;
            self.table.load(w, &mut s.points[slot.clone()]);
            s.distances[i] = self.manifold.distance_grad(
                &s.u,
                &s.points[slot.clone()],
                &mut s.grads_u[slot.clone()],
                &mut s.grads[slot],
            );
        }
        let m = s.candidates.len();
        let nearest = s.distances[..m].iter().copied().fold(f64::INFINITY, f64::min);
        let total: f64 = s.distances[..m].iter().map(|d| (nearest - d).exp()).sum();
        let loss = s.distances[0] - nearest + total.ln();
        s.grad_u.fill(0.0);
        for (i, &w) in s.candidates.iter().enumerate() {
            let p = (nearest - s.distances[i]).exp() / total;
            let coefficient = if i == 0 { p - 1.0 } else { p };
            // ∂loss/∂d_i = −coefficient: 1 − p₀ for the positive, −p_i for a negative.
            let slot = i * coords..(i + 1) * coords;
            for (g, gu) in s.grad_u.iter_mut().zip(&s.grads_u[slot.clone()]) {
                *g -= coefficient * gu;
            }
            let grad_w = &mut s.grads[slot.clone()];
            grad_w.iter_mut().for_each(|g| *g *= -coefficient);
            let point = &mut s.points[slot];
            self.manifold.step(point, grad_w, lr);
            self.table.store(w, point);
        }
        self.manifold.step(&mut s.u, &mut s.grad_u, lr);
        self.table.store(u, &s.u);
        loss
    }

    fn finish(self, losses: Vec<f64>) -> Trained {
        let dim = self.params.dim;
        let mut vectors = vec![0f32; self.hierarchy.len() * dim];
        let mut point = vec![0.0; self.table.coords];
        for (node, out) in vectors.chunks_exact_mut(dim).enumerate() {
            self.table.load(node as u32, &mut point);
            self.manifold.output(&point, out);
        }
        Trained { dim, vectors, losses }
    }
}

/// A uniform draw in [0, 1) with 53 random bits.
pub(crate) fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Fisher–Yates shuffle.
fn shuffle(items: &mut [u32], rng: &mut Xoshiro256PlusPlus) {
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}
