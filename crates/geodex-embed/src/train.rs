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
//!
//! **Stepping and resuming**: [`Training`] runs one epoch at a time, so a caller can evaluate,
//! checkpoint ([`crate::checkpoint`]) or stop between epochs. Every epoch's pair order and
//! negatives come from a generator seeded by (seed, epoch) alone, so a run resumed from a
//! checkpoint continues exactly as the uninterrupted run would have (one thread).
//!
//! **Speed**: an epoch on the WordNet nouns draws 38 M candidates, each a row of the point table
//! at a random place; the table (6.5 MB at d = 10) sits in L3, and the loads, not the
//! arithmetic, were two thirds of the time. Each candidate's row is prefetched when it is
//! drawn, so the loads of one pair overlap instead of queueing behind each other's distances.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

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
    /// The share of each pair's negatives (after burn-in) drawn near u in the hierarchy — a
    /// descendant of a uniformly drawn ancestor of u: its siblings, cousins and their subtrees
    /// — instead of uniformly among all nodes (0: the paper's sampler). See
    /// [`Trainer::sample_candidates`].
    pub local_negatives: f64,
    /// The share of each pair's negatives (after burn-in) drawn from u's `hard_pool` nearest
    /// unrelated nodes (neither ancestors nor descendants) in the current embedding ([`crate::hard`]), refreshed every
    /// `hard_refresh` epochs (0: none). Drawn before the local and the uniform ones.
    pub hard_negatives: f64,
    /// How many nearest unrelated nodes each node's hard list holds.
    pub hard_pool: usize,
    /// Epochs between two refreshes of the hard lists (counted from the end of burn-in; a
    /// resumed run mines at its first epoch, so it is exact when it resumes on a refresh).
    pub hard_refresh: usize,
    /// Poincaré only: trained points stay at norm ≤ 1 − `boundary_eps` (the reference
    /// implementation's 10⁻⁵, radius 12.2, by default; down to 10⁻⁶, radius 14.5, the written
    /// `f32` coordinates' limit and the Lorentz trainer's).
    pub boundary_eps: f64,
    /// Epochs of burn-in.
    pub burn_in: usize,
    /// The burn-in learning rate is `lr · burn_in_factor` (the paper: 1/10).
    pub burn_in_factor: f64,
    /// Hogwild threads (1: exactly reproducible).
    pub threads: usize,
    /// Seed of the initial points, the pair order and the negatives.
    pub seed: u64,
    /// How the learning rate moves after burn-in.
    pub schedule: LrSchedule,
    /// Checked before every epoch: once set, training stops with [`EmbedError::Cancelled`].
    pub cancel: Option<Arc<AtomicBool>>,
}

/// The learning rate after burn-in, as a function of the epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LrSchedule {
    /// `lr` until the end (the paper's).
    #[default]
    Constant,
    /// From `lr` at the first epoch after burn-in down linearly to `lr / (epochs − burn_in)` at
    /// the last (word2vec's decay): large steps to arrange, small ones to settle.
    Linear,
}

impl LrSchedule {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            LrSchedule::Constant => "constant",
            LrSchedule::Linear => "linear",
        }
    }
}

impl std::str::FromStr for LrSchedule {
    type Err = EmbedError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "constant" => Ok(LrSchedule::Constant),
            "linear" => Ok(LrSchedule::Linear),
            _ => Err(EmbedError::InvalidParameter(format!(
                "unknown learning-rate schedule '{s}' (expected constant or linear)"
            ))),
        }
    }
}

impl std::fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl TrainParams {
    /// The paper's settings at dimension `dim`: 50 negatives, 10 burn-in epochs at lr/10.
    pub fn new(dim: usize, epochs: usize, lr: f64) -> TrainParams {
        TrainParams {
            dim,
            epochs,
            lr,
            negatives: 50,
            local_negatives: 0.0,
            hard_negatives: 0.0,
            hard_pool: 32,
            hard_refresh: 10,
            boundary_eps: PoincareBall::BOUNDARY_EPS,
            burn_in: 10,
            burn_in_factor: 0.1,
            threads: 1,
            seed: 0,
            schedule: LrSchedule::Constant,
            cancel: None,
        }
    }

    /// The learning rate of `epoch` (from 0): `lr · burn_in_factor` during burn-in, then as
    /// the schedule says.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        if epoch < self.burn_in {
            return self.lr * self.burn_in_factor;
        }
        match self.schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Linear => {
                let span = self.epochs.saturating_sub(self.burn_in).max(1);
                let left = span.saturating_sub(epoch - self.burn_in).max(1);
                self.lr * left as f64 / span as f64
            }
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
        if !(0.0..=1.0).contains(&self.local_negatives) {
            return bad("the share of local negatives must be in [0, 1]");
        }
        if !(0.0..=1.0).contains(&self.hard_negatives) || self.hard_negatives + self.local_negatives > 1.0 {
            return bad("the share of hard negatives must be in [0, 1], and with the local share at most 1");
        }
        if !(crate::manifold::OUTPUT_EPS..=0.5).contains(&self.boundary_eps) {
            return bad("the boundary margin must be in [1e-6, 0.5]");
        }
        if self.hard_pool == 0 || self.hard_refresh == 0 {
            return bad("the hard pool and the hard refresh interval must be ≥ 1");
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

/// Trains `model` on the closure pairs of `hierarchy` for `params.epochs` epochs. `progress`
/// is called after every epoch with the epoch number (from 1) and its mean loss.
/// [`Model::Sarkar`] is not trained: use [`crate::sarkar`].
pub fn train(
    hierarchy: &Hierarchy,
    model: Model,
    params: &TrainParams,
    progress: &(dyn Fn(usize, f64) + Sync),
) -> Result<Trained, EmbedError> {
    let mut training = Training::new(hierarchy, model, params.clone())?;
    while training.epochs_done() < params.epochs {
        let stats = training.run_epoch()?;
        progress(stats.epoch, stats.loss);
    }
    Ok(training.finish())
}

/// What one epoch did and what it cost.
#[derive(Clone, Copy, Debug)]
pub struct EpochStats {
    /// The epoch just finished, from 1.
    pub epoch: usize,
    /// Mean loss per pair.
    pub loss: f64,
    /// The learning rate it ran at.
    pub lr: f64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The share of the threads' time spent drawing negatives (and prefetching their rows).
    pub sampling_share: f64,
}

/// A training run stepped one epoch at a time: evaluate, checkpoint or stop between epochs.
pub struct Training<'h> {
    hierarchy: &'h Hierarchy,
    model: Model,
    params: TrainParams,
    runner: Box<dyn EpochRunner + 'h>,
    epoch: usize,
    losses: Vec<f64>,
}

impl<'h> Training<'h> {
    /// A fresh run from the seeded initial points.
    pub fn new(hierarchy: &'h Hierarchy, model: Model, params: TrainParams) -> Result<Self, EmbedError> {
        params.validate()?;
        let runner: Box<dyn EpochRunner + 'h> = match model {
            Model::Poincare => {
                let ball = PoincareBall {
                    boundary_eps: params.boundary_eps,
                };
                Box::new(Trainer::new(hierarchy, ball, &params))
            }
            Model::Lorentz => Box::new(Trainer::new(hierarchy, Hyperboloid, &params)),
            Model::Euclidean => Box::new(Trainer::new(hierarchy, Flat, &params)),
            Model::Sarkar => {
                return Err(EmbedError::InvalidParameter(
                    "sarkar is a construction, not a trained model".into(),
                ))
            }
        };
        Ok(Training {
            hierarchy,
            model,
            params,
            runner,
            epoch: 0,
            losses: Vec::new(),
        })
    }

    /// The run a checkpoint of it left off: the points, the epochs done and their losses. The
    /// checkpoint must be of this hierarchy, model, dimension and seed.
    pub fn resume(
        hierarchy: &'h Hierarchy,
        model: Model,
        params: TrainParams,
        checkpoint: &crate::checkpoint::Checkpoint,
    ) -> Result<Self, EmbedError> {
        let mut training = Training::new(hierarchy, model, params)?;
        checkpoint.check_fits(hierarchy, model, &training.params)?;
        training.runner.table().set_all(&checkpoint.coords);
        training.epoch = checkpoint.epoch;
        training.losses = checkpoint.losses.clone();
        Ok(training)
    }

    /// Runs the next epoch (stops with [`EmbedError::Cancelled`] if the cancel flag is set).
    pub fn run_epoch(&mut self) -> Result<EpochStats, EmbedError> {
        if self
            .params
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(EmbedError::Cancelled);
        }
        let start = Instant::now();
        let lr = self.params.lr_at(self.epoch);
        let (loss, sampling_share) = self
            .runner
            .run_epoch(self.epoch, lr, self.epoch < self.params.burn_in);
        self.epoch += 1;
        self.losses.push(loss);
        Ok(EpochStats {
            epoch: self.epoch,
            loss,
            lr,
            seconds: start.elapsed().as_secs_f64(),
            sampling_share,
        })
    }

    /// Epochs run so far (resumed ones included).
    pub fn epochs_done(&self) -> usize {
        self.epoch
    }

    /// The settings of the run.
    pub fn params(&self) -> &TrainParams {
        &self.params
    }

    /// The current embedding in written coordinates (ball coordinates for the hyperbolic
    /// models), one `dim`-vector per node.
    pub fn vectors(&self) -> Vec<f32> {
        self.runner.vectors(self.params.dim)
    }

    /// A checkpoint of the run as it stands.
    pub fn checkpoint(&self) -> crate::checkpoint::Checkpoint {
        crate::checkpoint::Checkpoint::of_run(
            self.hierarchy,
            self.model,
            &self.params,
            self.epoch,
            self.losses.clone(),
            self.runner.table().all(),
        )
    }

    /// The embedding and the loss curve.
    pub fn finish(self) -> Trained {
        Trained {
            dim: self.params.dim,
            vectors: self.vectors(),
            losses: self.losses,
        }
    }
}

/// One geometry's trainer behind a uniform face, so [`Training`] need not be generic.
trait EpochRunner: Sync {
    /// Runs epoch `epoch` (from 0) at `lr`; returns the mean loss and the sampling share.
    fn run_epoch(&mut self, epoch: usize, lr: f64, burn_in: bool) -> (f64, f64);
    fn table(&self) -> &Table;
    fn vectors(&self, dim: usize) -> Vec<f32>;
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

    /// Starts loading `node`'s row into cache.
    fn prefetch(&self, node: u32) {
        geodex_distance::prefetch(&self.cells[node as usize * self.coords..][..self.coords]);
    }

    fn all(&self) -> Vec<f64> {
        self.cells
            .iter()
            .map(|c| f64::from_bits(c.load(Ordering::Relaxed)))
            .collect()
    }

    fn set_all(&self, values: &[f64]) {
        for (c, v) in self.cells.iter().zip(values) {
            c.store(v.to_bits(), Ordering::Relaxed);
        }
    }
}

/// A node drawn in proportion to its degree in the closure, in O(1): a uniform endpoint of a
/// uniform pair (a node of degree d is an endpoint of d pairs).
fn degree_sample(hierarchy: &Hierarchy, rng: &mut Xoshiro256PlusPlus) -> u32 {
    let pairs = hierarchy.pairs();
    let x = rng.next_u64();
    let (child, ancestor) = pairs[(x >> 1) as usize % pairs.len()];
    if x & 1 == 0 {
        child
    } else {
        ancestor
    }
}

struct Trainer<'h, M> {
    hierarchy: &'h Hierarchy,
    manifold: M,
    params: TrainParams,
    table: Table,
    /// Each node's nearest non-ancestors at the last refresh (empty before the first).
    hard: Vec<Vec<u32>>,
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
    fn new(hierarchy: &'h Hierarchy, manifold: M, params: &TrainParams) -> Self {
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
            params: params.clone(),
            table: Table { cells, coords },
            hard: Vec::new(),
        }
    }

    /// Mines the hard lists from the current points when `epoch` is due: the first epoch after
    /// burn-in, every `hard_refresh` epochs after it, and the first epoch a resumed run runs.
    fn refresh_hard(&mut self, epoch: usize, burn_in: bool) {
        let p = &self.params;
        if burn_in || p.hard_negatives == 0.0 {
            return;
        }
        let due = (epoch - p.burn_in).is_multiple_of(p.hard_refresh);
        if due || self.hard.is_empty() {
            let vectors = self.vectors(p.dim);
            self.hard = crate::hard::nearest_non_ancestors(
                self.hierarchy,
                &vectors,
                p.dim,
                M::HYPERBOLIC,
                p.hard_pool,
                p.threads,
            );
        }
    }

    /// Trains on `pairs` (indices into the closure); returns their summed loss, the seconds
    /// spent drawing negatives and the seconds in all.
    fn train_pairs(&self, pairs: &[u32], lr: f64, burn_in: bool, seed: u64) -> (f64, f64, f64) {
        let start = Instant::now();
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
        let (mut loss, mut sampling) = (0.0, 0.0);
        for &pair in pairs {
            let (u, v) = self.hierarchy.pairs()[pair as usize];
            let drawn = Instant::now();
            self.sample_candidates(u, v, burn_in, &mut rng, &mut s.candidates);
            sampling += drawn.elapsed().as_secs_f64();
            loss += self.train_pair(u, lr, &mut s);
        }
        (loss, sampling, start.elapsed().as_secs_f64())
    }

    /// Fills `out` with v followed by up to `negatives` nodes that are not ancestors of u,
    /// prefetching each row: the paper's N(u) = {v′ : (u, v′) ∉ D} (Nickel & Kiela 2017, eq. 6),
    /// so u's descendants are negatives too. That is what asks u's ancestors to rank ahead of its
    /// descendants, which the reconstruction MAP measures; excluding descendants as well (this
    /// trainer's first rule) left mammal MAP at d = 10 at 0.961 against 0.975 (HYPERBOLIC.md).
    ///
    /// After burn-in the first `round(negatives · hard_negatives)` slots are drawn uniformly
    /// from u's hard list (its nearest unrelated nodes at the last refresh, [`crate::hard`]),
    /// the next `round(negatives · local_negatives)` near u in the hierarchy
    /// ([`Self::local_sample`]) and the rest uniformly; during burn-in all are
    /// drawn in proportion to degree. Draws that hit u or an ancestor are redrawn, at most ten
    /// times per slot; a node with almost no other nodes simply gets fewer negatives.
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
        self.table.prefetch(u);
        self.table.prefetch(v);
        let n = self.hierarchy.len() as u64;
        let share = |s: f64| (self.params.negatives as f64 * s).round() as usize;
        let hard_list = self.hard.get(u as usize).filter(|l| !burn_in && !l.is_empty());
        let hard = hard_list.map_or(0, |_| share(self.params.hard_negatives));
        let local = if burn_in {
            0
        } else {
            hard + share(self.params.local_negatives)
        };
        let mut tries = 10 * self.params.negatives;
        while out.len() <= self.params.negatives && tries > 0 {
            tries -= 1;
            let w = if burn_in {
                degree_sample(self.hierarchy, rng)
            } else if let Some(list) = hard_list.filter(|_| out.len() <= hard) {
                list[(rng.next_u64() % list.len() as u64) as usize]
            } else if out.len() <= local {
                self.local_sample(u, rng)
            } else {
                (rng.next_u64() % n) as u32
            };
            if w != u && !self.hierarchy.has_ancestor(u, w) {
                self.table.prefetch(w);
                out.push(w);
            }
        }
    }

    /// A node near u in the hierarchy: a uniform descendant of a uniform ancestor of u (u itself
    /// when it has none, which the caller redraws). Uniform negatives among the 82k WordNet
    /// nouns almost never hit u's siblings and cousins, yet those are what outrank u's ancestors
    /// where the reconstruction MAP is lost (HYPERBOLIC.md, "where the MAP is lost"); an
    /// ancestor a is drawn with probability 1/|ancestors(u)| whatever its size, so the small
    /// subtrees near u are drawn far more often than uniformly.
    fn local_sample(&self, u: u32, rng: &mut Xoshiro256PlusPlus) -> u32 {
        let ancestors = self.hierarchy.ancestors(u);
        if ancestors.is_empty() {
            return u;
        }
        let a = ancestors[(rng.next_u64() % ancestors.len() as u64) as usize];
        let below = self.hierarchy.descendants(a);
        below[(rng.next_u64() % below.len() as u64) as usize]
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
}

impl<M: Manifold> EpochRunner for Trainer<'_, M> {
    fn run_epoch(&mut self, epoch: usize, lr: f64, burn_in: bool) -> (f64, f64) {
        self.refresh_hard(epoch, burn_in);
        let this = &*self;
        let p = &this.params;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(epoch_seed(p.seed, epoch));
        let mut order: Vec<u32> = (0..this.hierarchy.pairs().len() as u32).collect();
        shuffle(&mut order, &mut rng);
        let chunk = order.len().div_ceil(p.threads).max(1);
        let thread_seeds: Vec<u64> = (0..p.threads).map(|_| rng.next_u64()).collect();
        let parts: Vec<(f64, f64, f64)> = std::thread::scope(|s| {
            let handles: Vec<_> = order
                .chunks(chunk)
                .zip(&thread_seeds)
                .map(|(pairs, &seed)| s.spawn(move || this.train_pairs(pairs, lr, burn_in, seed)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a training thread panicked"))
                .collect()
        });
        let total: f64 = parts.iter().map(|p| p.0).sum();
        let sampling: f64 = parts.iter().map(|p| p.1).sum();
        let busy: f64 = parts.iter().map(|p| p.2).sum();
        (
            total / order.len().max(1) as f64,
            if busy > 0.0 { sampling / busy } else { 0.0 },
        )
    }

    fn table(&self) -> &Table {
        &self.table
    }

    fn vectors(&self, dim: usize) -> Vec<f32> {
        let mut vectors = vec![0f32; self.hierarchy.len() * dim];
        let mut point = vec![0.0; self.table.coords];
        for (node, out) in vectors.chunks_exact_mut(dim).enumerate() {
            self.table.load(node as u32, &mut point);
            self.manifold.output(&point, out);
        }
        vectors
    }
}

/// The seed of epoch `epoch`'s pair order and negatives: a function of the run's seed and the
/// epoch alone, so a resumed run draws what the uninterrupted one would have.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    (seed ^ 0x5EED_0F0D_E5E5).wrapping_add((epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negatives_are_never_ancestors_and_include_descendants() {
        // 0 ← 1 ← 2 closed, and 3, 4 under 0: node 1's ancestor is 0, its descendant 2.
        let names = (0..5).map(|i| format!("n{i}")).collect();
        let h = Hierarchy::from_pairs(names, vec![(1, 0), (2, 0), (2, 1), (3, 0), (4, 0)]);
        let params = TrainParams {
            negatives: 3,
            ..TrainParams::new(2, 1, 0.1)
        };
        let trainer = Trainer::new(&h, PoincareBall::default(), &params);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let mut drawn = [0usize; 5];
        let mut out = Vec::new();
        for round in 0..2000 {
            trainer.sample_candidates(1, 0, round % 2 == 0, &mut rng, &mut out);
            assert_eq!(out[0], 0, "the positive comes first");
            out[1..].iter().for_each(|&w| drawn[w as usize] += 1);
        }
        assert_eq!(
            drawn[0] + drawn[1],
            0,
            "u or its ancestor drawn as a negative: {drawn:?}"
        );
        assert!(drawn[2] > 0 && drawn[3] > 0 && drawn[4] > 0, "{drawn:?}");
    }

    /// The first round(negatives · hard_negatives) slots come from u's hard list, the rest
    /// uniformly; nothing is drawn from the list during burn-in or before a list exists.
    #[test]
    fn hard_negatives_fill_their_share_of_the_slots_from_the_list() {
        let names = (0..40).map(|i| format!("n{i}")).collect();
        let pairs = (1..40).map(|c| (c, 0)).collect();
        let h = Hierarchy::from_pairs(names, pairs);
        let params = TrainParams {
            negatives: 10,
            hard_negatives: 0.3,
            ..TrainParams::new(2, 1, 0.1)
        };
        let mut trainer = Trainer::new(&h, PoincareBall::default(), &params);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut out = Vec::new();
        trainer.sample_candidates(5, 0, false, &mut rng, &mut out);
        assert_eq!(out.len(), 11, "no list yet: every slot uniform");
        trainer.hard = vec![vec![31, 32]; 40];
        let (mut from_list, mut rounds) = (0usize, 0usize);
        for burn_in in [false, true] {
            for _ in 0..500 {
                trainer.sample_candidates(5, 0, burn_in, &mut rng, &mut out);
                assert!(!out[1..].contains(&0) && !out[1..].contains(&5), "{out:?}");
                if !burn_in {
                    assert!(out[1..4].iter().all(|w| [31, 32].contains(w)), "{out:?}");
                    from_list += out[4..].iter().filter(|w| [31, 32].contains(w)).count();
                    rounds += 1;
                }
            }
        }
        // The 7 uniform slots hit 31 or 32 with probability 2/39 each (u and its ancestor are
        // redrawn): 7 · 500 · 2/39 ≈ 180 expected.
        let expected = 7.0 * rounds as f64 * 2.0 / 39.0;
        assert!(
            (from_list as f64 - expected).abs() < 4.0 * expected.sqrt(),
            "{from_list} vs {expected}"
        );
        let bad = TrainParams {
            hard_negatives: 0.6,
            local_negatives: 0.5,
            ..params
        };
        assert!(bad.validate().is_err(), "hard + local shares above 1 are refused");
    }

    #[test]
    fn local_negatives_follow_the_closed_form_of_ancestor_then_descendant() {
        // Root 0 over 1 and 2; 3, 4, 5 under 1; 6..=20 under 2 (closed). For u = 3 (ancestors
        // 1 and 0) a local draw picks 1 or 0 with probability ½ each, then a uniform descendant:
        // of 1 {3, 4, 5}, of 0 the 20 others. Draws of u or an ancestor are redrawn, so a
        // node w is drawn with P(w) / (1 − P(rejected)).
        let mut pairs = vec![(1, 0), (2, 0)];
        for c in 3..=5 {
            pairs.extend([(c, 1), (c, 0)]);
        }
        for c in 6..=20 {
            pairs.extend([(c, 2), (c, 0)]);
        }
        let names = (0..21).map(|i| format!("n{i}")).collect();
        let h = Hierarchy::from_pairs(names, pairs);
        let params = TrainParams {
            negatives: 4,
            local_negatives: 1.0,
            ..TrainParams::new(2, 1, 0.1)
        };
        let trainer = Trainer::new(&h, PoincareBall::default(), &params);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let mut counts = [0f64; 21];
        let mut out = Vec::new();
        for _ in 0..50_000 {
            trainer.sample_candidates(3, 1, false, &mut rng, &mut out);
            assert_eq!(out.len(), 5, "every slot filled");
            out[1..].iter().for_each(|&w| counts[w as usize] += 1.0);
        }
        let raw = |w: usize| {
            let under_1 = if (3..=5).contains(&w) { 0.5 / 3.0 } else { 0.0 };
            let under_0 = if w == 0 { 0.0 } else { 0.5 / 20.0 };
            under_1 + under_0
        };
        let rejected = raw(3) + raw(1);
        let draws: f64 = counts.iter().sum();
        assert_eq!(counts[0] + counts[1] + counts[3], 0.0, "u or an ancestor drawn");
        for w in [2, 4, 5, 6, 13, 20] {
            let p = raw(w) / (1.0 - rejected);
            let sd = (draws * p * (1.0 - p)).sqrt();
            assert!(
                (counts[w] - draws * p).abs() < 5.0 * sd,
                "node {w}: {} draws, want {}",
                counts[w],
                draws * p
            );
        }
        // A sibling is drawn 1 + 20/3 ≈ 7.7× as often as a node of the other subtree; with the
        // paper's uniform sampler the two are equally likely.
        assert!(counts[4] > 5.0 * counts[13], "{counts:?}");
    }

    #[test]
    fn degree_sampling_draws_nodes_in_proportion_to_their_closure_degree() {
        // A path 0 ← 1 ← 2 ← 3 closed: degrees 3, 3, 3, 3 would be uninformative, so add a
        // star: 4, 5, 6 under 0. Degrees counted from the pairs directly.
        let names = (0..7).map(|i| format!("n{i}")).collect();
        let pairs = vec![
            (1, 0),
            (2, 0),
            (2, 1),
            (3, 0),
            (3, 1),
            (3, 2),
            (4, 0),
            (5, 0),
            (6, 0),
        ];
        let h = Hierarchy::from_pairs(names, pairs.clone());
        let mut degree = [0f64; 7];
        for (c, a) in pairs {
            degree[c as usize] += 1.0;
            degree[a as usize] += 1.0;
        }
        let total: f64 = degree.iter().sum();
        let draws = 200_000;
        let mut counts = [0f64; 7];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        for _ in 0..draws {
            counts[degree_sample(&h, &mut rng) as usize] += 1.0;
        }
        for (node, (&c, &d)) in counts.iter().zip(&degree).enumerate() {
            let p = d / total;
            let sd = (draws as f64 * p * (1.0 - p)).sqrt();
            assert!(
                (c - draws as f64 * p).abs() < 5.0 * sd,
                "node {node}: {c} draws, want {}",
                draws as f64 * p
            );
        }
    }
}
