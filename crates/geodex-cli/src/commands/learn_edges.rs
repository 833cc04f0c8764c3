//! `geodex learn-edges`: trains an edge scorer on the paths of learning queries
//! (`geodex_edges`) and writes it as JSON for `geodex build --edges learned:MODEL`.

use std::io::Write;
use std::path::PathBuf;

use geodex_core::Component;
use geodex_edges::{
    landscape::LandscapeOptions,
    learn_edges,
    ode::{OdeSpec, Solver},
    reinforce::ReinforceOptions,
    spectral::{Laplacian, SpectralOptions},
    step::{Estimator, Relaxation},
    EdgesError, EdgesReport, Labels, LearnEdgesOptions, ModelKind, Optimizer, TrainOptions,
};

use crate::data::{LearningInput, LearningTask, QueryElement};
use crate::failure::{in_file, Failure};

/// Arguments of `geodex learn-edges`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The base vectors (inner product has no distance to learn from), the learning queries
    /// and their ground truth.
    #[command(flatten)]
    pub input: LearningInput,
    /// The scorer: logistic, mlp, gnn (message passing over the candidate list, which also
    /// sees the links kept so far), or ode (the same in continuous depth, a Neural ODE).
    #[arg(long, default_value = "logistic")]
    pub model: ModelKind,
    /// Surrogate labels: progress (a candidate some training query gets closer through than
    /// through every link kept before it) or path (edges on the queries' paths in the union
    /// graph).
    #[arg(long, default_value = "progress")]
    pub labels: Labels,
    /// Train on the set each list keeps instead of the labels (THEORY §4.3): every judged
    /// candidate's decision relaxed by the binary concrete at τ(t) = max(--tau-floor,
    /// e^(−0.001·t)), the loss how near the greedy step from the node brings its training
    /// queries. concrete: the relaxed weights themselves; straight-through: the rule's own noisy
    /// decisions forward, at most the heuristic's number of links, the concrete's gradient back.
    #[arg(long)]
    pub relaxation: Option<Estimator>,
    /// Floor of the relaxation's temperature (the text: 0.5).
    #[arg(long, default_value_t = Relaxation::default().tau_floor)]
    pub tau_floor: f64,
    /// Width κ of the set objective's soft minimum over the kept links (≥ 0.01).
    #[arg(long, default_value_t = Relaxation::default().softness)]
    pub softness: f64,
    /// With --relaxation: project each step's gradient off the gradient of the expected number
    /// of kept links, so training changes which links a list keeps rather than how many.
    #[arg(long, requires = "relaxation")]
    pub hold_degree: bool,
    /// Hidden units of the MLP and of the gnn's layers.
    #[arg(long, default_value_t = TrainOptions::default().hidden)]
    pub hidden: usize,
    /// Message-passing layers of the gnn.
    #[arg(long, default_value_t = TrainOptions::default().layers)]
    pub layers: usize,
    /// The ode's integration time T (its continuous depth).
    #[arg(long, default_value_t = OdeSpec::default().horizon)]
    pub ode_time: f64,
    /// The ode's solver: rk4 (--ode-steps fixed steps) or dopri5 (adaptive at --ode-tolerance).
    #[arg(long, default_value = "rk4")]
    pub ode_solver: String,
    /// Steps of rk4 over [0, T].
    #[arg(long, default_value_t = 4)]
    pub ode_steps: usize,
    /// Relative and absolute tolerance of dopri5.
    #[arg(long, default_value_t = 1e-4)]
    pub ode_tolerance: f64,
    /// How training differentiates the ode: backprop (through the solver's steps) or adjoint.
    #[arg(long, default_value = "backprop")]
    pub ode_gradient: String,
    /// Where to write the model (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// M of the index the model is for (level-0 budget 2·M).
    #[arg(long, default_value_t = 16)]
    pub m: usize,
    /// ef_construction of the index the labels come from.
    #[arg(long, default_value_t = 200)]
    pub ef_construction: usize,
    /// Candidates per node, labelled and offered to the labelling walks.
    #[arg(long, default_value_t = LearnEdgesOptions::default().width)]
    pub candidates: usize,
    /// Beam width of the labelling walks.
    #[arg(long, default_value_t = LearnEdgesOptions::default().walk_ef)]
    pub walk_ef: usize,
    /// True neighbours per query whose paths count.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Passes over the labelled nodes.
    #[arg(long, default_value_t = TrainOptions::default().epochs)]
    pub epochs: usize,
    /// Labelled nodes per update.
    #[arg(long, default_value_t = TrainOptions::default().batch)]
    pub batch: usize,
    /// Step size.
    #[arg(long, default_value_t = TrainOptions::default().learning_rate)]
    pub lr: f64,
    /// adam, sgd (with --momentum), or langevin (SGLD at --temperature).
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Momentum of sgd.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// Temperature T of langevin: θ ← θ − η·g + √(2ηT)·ξ.
    #[arg(long, default_value_t = 1e-4, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Also study the loss landscape (THEORY §4.1–4.2, §8.1): the Hessian spectrum at the
    /// initial and trained scorer, and gradient descent, SGD and Langevin descents on the loss
    /// with the roll-outs frozen; reported under `landscape` of --json.
    #[arg(long)]
    pub landscape: bool,
    /// With --landscape: passes of each descent.
    #[arg(long, default_value_t = LandscapeOptions::default().passes)]
    pub landscape_passes: usize,
    /// With --landscape: step size of each descent.
    #[arg(long, default_value_t = LandscapeOptions::default().learning_rate)]
    pub landscape_lr: f64,
    /// λ of the degree penalty (expected links; the text's γ·Tr(L) is this L1 term).
    #[arg(long, default_value_t = 0.0)]
    pub degree_penalty: f64,
    /// μ of the spectral regulariser −μ·λ₂/λ₂⁰ on the symmetrised level 0 with soft weights
    /// (THEORY §5.1; gradient (v₂ᵤ − v₂ᵥ)², λ₂ refreshed per epoch); 0 tracks λ₂ per epoch
    /// without moving the scorer; absent: off.
    #[arg(long)]
    pub spectral: Option<f64>,
    /// Policy-gradient steps of REINFORCE on recall at fixed ef after the surrogate training
    /// (each training node's list drawn from the scorer, rewarded by the training queries'
    /// recall@k on the drawn graph); 0: off.
    #[arg(long, default_value_t = 0)]
    pub reinforce: usize,
    /// Beam width of REINFORCE's rewarded walks.
    #[arg(long, default_value_t = ReinforceOptions::default().ef)]
    pub reinforce_ef: usize,
    /// Training queries walked per REINFORCE step.
    #[arg(long, default_value_t = ReinforceOptions::default().queries_per_iteration)]
    pub reinforce_queries: usize,
    /// Step size of REINFORCE (with --optimizer).
    #[arg(long, default_value_t = ReinforceOptions::default().learning_rate)]
    pub reinforce_lr: f64,
    /// The Laplacian whose λ₂ --spectral raises: combinatorial (L = D − W) or normalized.
    #[arg(long, default_value = "combinatorial")]
    pub spectral_laplacian: Laplacian,
    /// At most this many labelled nodes are used.
    #[arg(long, default_value_t = LearnEdgesOptions::default().max_examples)]
    pub max_examples: usize,
    /// Rows of the sample the threshold is calibrated on (by building it until the learned
    /// rule's level-0 mean degree is the heuristic's).
    #[arg(long, default_value_t = LearnEdgesOptions::default().calibration_rows)]
    pub calibration_rows: usize,
    /// Seed of the index, the split, the weights and the order.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Threads (default: all cores; one thread makes the model a function of the seed).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Accepted for symmetry: learn-edges prints no progress.
    #[arg(long)]
    pub quiet: bool,
}

fn options(a: &Args) -> Result<LearnEdgesOptions, Failure> {
    if !(a.temperature >= 0.0 && a.temperature.is_finite()) {
        return Err(Failure::input(format!(
            "--temperature {}: must be finite and ≥ 0",
            a.temperature
        )));
    }
    let optimizer = match a.optimizer.as_str() {
        "adam" => Optimizer::Adam,
        "sgd" if (0.0..1.0).contains(&a.momentum) => Optimizer::Sgd { momentum: a.momentum },
        "sgd" => {
            return Err(Failure::input(format!(
                "--momentum {}: must be in [0, 1)",
                a.momentum
            )))
        }
        "langevin" => Optimizer::Langevin {
            temperature: a.temperature,
        },
        other => {
            return Err(Failure::input(format!(
                "--optimizer {other}: expected adam, sgd or langevin"
            )))
        }
    };
    if a.landscape && (a.landscape_passes == 0 || !(a.landscape_lr > 0.0 && a.landscape_lr.is_finite())) {
        return Err(Failure::input(
            "--landscape-passes must be ≥ 1 and --landscape-lr > 0",
        ));
    }
    if !(a.degree_penalty >= 0.0 && a.degree_penalty.is_finite()) {
        return Err(Failure::input(format!(
            "--degree-penalty {}: must be ≥ 0",
            a.degree_penalty
        )));
    }
    if let Some(mu) = a.spectral.filter(|mu| !(*mu >= 0.0 && mu.is_finite())) {
        return Err(Failure::input(format!("--spectral {mu}: must be finite and ≥ 0")));
    }
    let ode = flow(a)?;
    let relaxation = a.relaxation.map(|estimator| Relaxation {
        estimator,
        tau_floor: a.tau_floor,
        softness: a.softness,
        hold_degree: a.hold_degree,
    });
    if let Some(r) = &relaxation {
        r.validate()
            .map_err(|e| Failure::input(format!("--relaxation: {e}")))?;
    }
    Ok(LearnEdgesOptions {
        metric: a.input.metric,
        m: a.m,
        ef_construction: a.ef_construction,
        width: a.candidates,
        walk_ef: a.walk_ef,
        k: a.k,
        max_examples: a.max_examples,
        calibration_rows: a.calibration_rows,
        threads: a.threads,
        train: TrainOptions {
            kind: a.model,
            hidden: a.hidden,
            layers: a.layers,
            ode,
            epochs: a.epochs,
            batch: a.batch,
            learning_rate: a.lr,
            optimizer,
            degree_penalty: a.degree_penalty,
            labels: a.labels,
            relaxation,
            seed: a.seed,
            ..TrainOptions::default()
        },
        landscape: a.landscape.then(|| LandscapeOptions {
            passes: a.landscape_passes,
            learning_rate: a.landscape_lr,
            seed: a.seed,
            ..LandscapeOptions::default()
        }),
        reinforce: Some(ReinforceOptions {
            iterations: a.reinforce,
            ef: a.reinforce_ef,
            k: a.k,
            queries_per_iteration: a.reinforce_queries,
            learning_rate: a.reinforce_lr,
            seed: a.seed,
            ..ReinforceOptions::default()
        }),
        spectral: a.spectral.map(|weight| SpectralOptions {
            weight,
            laplacian: a.spectral_laplacian,
        }),
        ..LearnEdgesOptions::default()
    })
}

/// The ode's flow from --ode-time, --ode-solver, --ode-steps, --ode-tolerance, --ode-gradient.
fn flow(a: &Args) -> Result<OdeSpec, Failure> {
    let solver = match a.ode_solver.as_str() {
        "rk4" => Solver::Rk4 { steps: a.ode_steps },
        "dopri5" => Solver::Dopri5 {
            tolerance: a.ode_tolerance,
        },
        other => {
            return Err(Failure::input(format!(
                "--ode-solver {other}: expected rk4 or dopri5"
            )))
        }
    };
    let spec = OdeSpec {
        horizon: a.ode_time,
        solver,
        gradient: a
            .ode_gradient
            .parse()
            .map_err(|e| Failure::input(format!("--ode-gradient: {e}")))?,
    };
    spec.validate()
        .map_err(|e| Failure::input(format!("the ode's flow: {e}")))?;
    Ok(spec)
}

pub fn run(a: Args) -> Result<(), Failure> {
    let opts = options(&a)?;
    let report = a.input.run(a.k, Learn { a: &a, opts: &opts })?;
    print(&a, &report);
    Ok(())
}

/// Learning on the data of `--data` and `--queries`; writes the model, returns the report.
struct Learn<'a> {
    a: &'a Args,
    opts: &'a LearnEdgesOptions,
}

impl LearningTask for Learn<'_> {
    type Output = EdgesReport;
    fn run<T: Component + QueryElement>(
        self,
        base: Vec<T>,
        dim: usize,
        queries: &[T],
        truth: Option<Vec<Vec<u64>>>,
    ) -> Result<EdgesReport, Failure> {
        let (a, input) = (self.a, &self.a.input);
        let truth = match truth {
            Some(t) => t,
            None => geodex_core::exact::exact_knn(&base, queries, dim, a.k, input.metric, &|_| {})
                .map_err(in_file(&input.queries))?
                .into_iter()
                .map(|hits| hits.into_iter().map(|h| u64::from(h.id)).collect())
                .collect(),
        };
        let learned = learn_edges(base, dim, queries, &truth, self.opts).map_err(|e| match e {
            EdgesError::Core(e) => in_file(&input.data)(e),
            EdgesError::Invalid(m) => Failure::input(m),
        })?;
        let json = serde_json::to_vec_pretty(&learned.model).expect("the model serialises");
        geodex_io::atomic::write_file(&a.out, |w: &mut dyn Write| w.write_all(&json))?;
        Ok(learned.report)
    }
}

fn print(a: &Args, r: &EdgesReport) {
    if a.json {
        super::print_json(&serde_json::to_value(r).expect("the report serialises"));
        return;
    }
    println!(
        "trained on {} labelled nodes ({:.2} path edges each), validated on {}: loss {:.4} → {:.4}",
        r.train_nodes,
        r.positives_per_node,
        r.validation_nodes,
        r.history.first().map_or(f64::NAN, |e| e.validation_loss),
        r.history.last().map_or(f64::NAN, |e| e.validation_loss),
    );
    for (name, s) in [("heuristic", &r.heuristic), ("learned", &r.learned)] {
        println!(
            "{name:>9}: {:.2} links per node, {:.1} % of path edges kept, {:.1} % of links on paths, {:.1} % of demands' best candidate kept",
            s.mean_kept,
            100.0 * s.positives_kept,
            100.0 * s.precision,
            100.0 * s.demand_coverage
        );
    }
    println!(
        "level-0 mean degree on the calibration sample: heuristic {:.2}, learned {:.2}",
        r.sample_degree_heuristic, r.sample_degree_learned
    );
    let lambdas: Vec<String> = r
        .history
        .iter()
        .filter_map(|e| e.spectral.as_ref())
        .map(|s| format!("{:.4} ({:.3})", s.lambda2, s.participation))
        .collect();
    if !lambdas.is_empty() {
        println!(
            "λ₂ of the soft graph per epoch (participation ratio): {}",
            lambdas.join(", ")
        );
    }
    for row in &r.relaxation {
        println!(
            "relaxation at τ {:<4}: |bias| {:.4} (τ² law {:.4}), variance {:.4} (Bernoulli {:.4})",
            row.tau, row.mean_abs_bias, row.predicted_abs_bias, row.mean_variance, row.bernoulli_variance
        );
    }
    if let Some(l) = &r.landscape {
        print_landscape(l);
    }
    if let Some(c) = &r.flow_cost {
        print_flow_cost(c);
    }
    if let Some(rl) = &r.reinforce {
        print_reinforce(rl);
    }
    println!(
        "the learned rule agrees with the heuristic on {:.1} % of decisions; model written to {}",
        100.0 * r.agreement_with_heuristic,
        a.out.display()
    );
}

fn print_reinforce(r: &geodex_edges::reinforce::ReinforceReport) {
    println!(
        "REINFORCE over {} training nodes, {} training queries: {} steps",
        r.nodes,
        r.queries,
        r.history.last().map_or(0, |s| s.iteration + 1)
    );
    for (name, w) in [
        ("heuristic", &r.heuristic),
        ("before", &r.before),
        ("after", &r.after),
    ] {
        println!(
            "{name:>9}: recall {:.4}, {:.0} distance evaluations per query, {:.2} links per list",
            w.recall, w.distances, w.mean_kept
        );
    }
}

fn print_flow_cost(c: &geodex_edges::flow_cost::FlowCost) {
    println!(
        "ode solves on {} lists ({} candidates): {:.1} steps ({:.1} rejected), {:.1} evaluations per candidate; tape {:.0} floats per candidate (peak {} per list), adjoint state {} floats",
        c.lists,
        c.candidates,
        c.steps_per_candidate,
        c.rejected_per_candidate,
        c.evaluations_per_candidate,
        c.tape_floats_per_candidate,
        c.peak_tape_floats,
        c.peak_adjoint_floats
    );
    println!(
        "ode seconds (one thread): forward {:.3}, backprop {:.3}, adjoint {:.3}; adjoint gradient off by {:.2e} (relative), logits off the reference solve by {:.2e}",
        c.forward_seconds,
        c.backprop_seconds,
        c.adjoint_seconds,
        c.adjoint_gradient_error,
        c.logit_error
    );
}

fn print_landscape(l: &geodex_edges::landscape::LandscapeReport) {
    println!(
        "landscape: {} parameters, {} judged candidates; {} of the training epochs raised the loss",
        l.parameters, l.candidates, l.training_increases
    );
    let row = |name: &str, s: &geodex_edges::landscape::Spectrum| {
        println!(
            "{name:>16}: loss {:.5}, |grad| {:.2e}, Hessian eigenvalues [{:.3e}, {:.3e}], {} negative",
            s.loss, s.gradient_norm, s.min, s.max, s.negative
        )
    };
    row("initial", &l.at_init);
    row("trained", &l.at_trained);
    for d in &l.descents {
        row(&d.method, &d.end);
        println!(
            "{:>16}  {} of {} passes raised the loss",
            "",
            d.increases,
            d.curve.len() - 1
        );
    }
}
