//! The embedding crate against independent computations: finite differences for gradients,
//! closed forms (isometries, edge lengths), and a brute-force recount of the closure.

use geodex_embed::hierarchy::{hop_distances, tree_closure};
use geodex_embed::manifold::{ball_distance, minkowski, Flat, Hyperboloid, Manifold, PoincareBall};
use geodex_embed::{
    distortion, link_prediction, reconstruction, sarkar, train, Checkpoint, EmbedError, Hierarchy,
    LrSchedule, Model, Relevant, TrainParams, Training,
};
use geodex_testkit::Rng;

/// A complete tree with `branching` children per node and `depth` levels below the root,
/// parents listed breadth first (node 0 is the root).
fn complete_tree(branching: usize, depth: usize) -> Vec<Option<u32>> {
    let mut parent = vec![None];
    let mut level = vec![0u32];
    for _ in 0..depth {
        let mut next = Vec::new();
        for &p in &level {
            for _ in 0..branching {
                parent.push(Some(p));
                next.push(parent.len() as u32 - 1);
            }
        }
        level = next;
    }
    parent
}

fn tree_hierarchy(parent: &[Option<u32>]) -> Hierarchy {
    let names = (0..parent.len()).map(|i| format!("n{i:05}")).collect();
    Hierarchy::from_pairs(names, tree_closure(parent))
}

/// A point of the ball at a norm spread towards the boundary (up to 1 − 10⁻³).
fn ball_point(rng: &mut Rng, dim: usize) -> Vec<f64> {
    let v: Vec<f64> = (0..dim).map(|_| rng.normal()).collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let radius = 1.0 - 10f64.powf(-rng.uniform() * 3.0) * 0.9;
    v.iter().map(|x| x / norm * radius).collect()
}

fn lift(p: &[f64]) -> Vec<f64> {
    let n2: f64 = p.iter().map(|x| x * x).sum();
    let mut x = vec![(1.0 + n2) / (1.0 - n2)];
    x.extend(p.iter().map(|c| 2.0 * c / (1.0 - n2)));
    x
}

/// Central differences of `f` at `x` in every coordinate.
fn numeric_gradient(x: &[f64], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let h = 1e-6 * x[i].abs().max(1e-3);
            let (mut plus, mut minus) = (x.to_vec(), x.to_vec());
            plus[i] += h;
            minus[i] -= h;
            (f(&plus) - f(&minus)) / (2.0 * h)
        })
        .collect()
}

fn assert_gradient<M: Manifold>(manifold: M, u: &[f64], v: &[f64]) {
    let n = u.len();
    let (mut gu, mut gv) = (vec![0.0; n], vec![0.0; n]);
    manifold.distance_grad(u, v, &mut gu, &mut gv);
    let dist = |a: &[f64], b: &[f64]| manifold.distance_grad(a, b, &mut vec![0.0; n], &mut vec![0.0; n]);
    let nu = numeric_gradient(u, |x| dist(x, v));
    let nv = numeric_gradient(v, |x| dist(u, x));
    for (analytic, numeric) in gu.iter().chain(&gv).zip(nu.iter().chain(&nv)) {
        let scale = numeric.abs().max(1.0);
        assert!(
            (analytic - numeric).abs() <= 1e-4 * scale,
            "{analytic} vs {numeric}"
        );
    }
}

#[test]
fn distance_gradients_match_finite_differences() {
    let mut rng = Rng::new(3);
    for _ in 0..50 {
        let (u, v) = (ball_point(&mut rng, 5), ball_point(&mut rng, 5));
        assert_gradient(PoincareBall::default(), &u, &v);
        assert_gradient(Hyperboloid, &lift(&u), &lift(&v));
        assert_gradient(Flat, &u, &v);
    }
}

#[test]
fn the_hyperboloid_and_the_ball_give_the_same_distance() {
    let mut rng = Rng::new(5);
    for _ in 0..200 {
        let (u, v) = (ball_point(&mut rng, 4), ball_point(&mut rng, 4));
        let (x, y) = (lift(&u), lift(&v));
        let lorentz = Hyperboloid.distance_grad(&x, &y, &mut [0.0; 5], &mut [0.0; 5]);
        let ball = PoincareBall::default().distance_grad(&u, &v, &mut [0.0; 4], &mut [0.0; 4]);
        assert!(
            (lorentz - ball).abs() <= 1e-7 * ball.max(1.0),
            "{lorentz} vs {ball}"
        );
        let mut written = [0f32; 4];
        Hyperboloid.output(&x, &mut written);
        let u32: Vec<f32> = u.iter().map(|&c| c as f32).collect();
        assert!(
            (ball_distance(&written, &u32)) < 1e-3,
            "output of the lift is the point itself"
        );
    }
}

#[test]
fn riemannian_steps_stay_on_their_manifold() {
    let mut rng = Rng::new(9);
    for _ in 0..200 {
        let mut p = ball_point(&mut rng, 6);
        let mut g: Vec<f64> = (0..6).map(|_| (rng.uniform() - 0.5) * 1e4).collect();
        PoincareBall::default().step(&mut p, &mut g.clone(), 10.0);
        assert!(p.iter().map(|x| x * x).sum::<f64>().sqrt() <= 1.0 - PoincareBall::BOUNDARY_EPS + 1e-12);
        let mut x = lift(&ball_point(&mut rng, 6));
        g.push(0.3);
        Hyperboloid.step(&mut x, &mut g, 0.5);
        assert!(
            (minkowski(&x, &x) + 1.0).abs() < 1e-6 * x[0] * x[0],
            "⟨x,x⟩_L = {}",
            minkowski(&x, &x)
        );
        assert!(x[0] >= 1.0);
    }
}

/// A narrower projection margin lets a point pushed outwards go past the default margin and
/// stops it at its own: from the origin's side, a step along −u by a large rate.
#[test]
fn the_ball_keeps_points_inside_its_own_margin() {
    for eps in [PoincareBall::BOUNDARY_EPS, 1e-6, 1e-3] {
        let ball = PoincareBall { boundary_eps: eps };
        let mut p = vec![0.6, 0.0, 0.0];
        for _ in 0..50 {
            let mut g = vec![-1e6, 0.0, 0.0];
            ball.step(&mut p, &mut g, 1.0);
        }
        let norm = p.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - (1.0 - eps)).abs() < 1e-12, "ε {eps}: norm {norm}");
    }
    let bad = TrainParams {
        boundary_eps: 1e-7,
        ..TrainParams::new(2, 1, 0.1)
    };
    let h = tree_hierarchy(&complete_tree(2, 1));
    assert!(matches!(
        train(&h, Model::Poincare, &bad, &|_, _| {}),
        Err(EmbedError::InvalidParameter(_))
    ));
}

#[test]
fn closure_parsing_reports_the_line_and_orders_nodes_by_name() {
    let ok = "b\ta\nc\ta\n# comment\n\nd\tb\nd\ta\n";
    let h = Hierarchy::read_tsv(ok.as_bytes()).unwrap();
    assert_eq!(h.names(), ["a", "b", "c", "d"]);
    assert_eq!(h.ancestors(3), [0, 1]);
    assert_eq!(h.descendants(0), [1, 2, 3]);
    assert_eq!(h.parents(), vec![vec![], vec![0], vec![0], vec![1]]);
    assert!(h.related(3, 0) && h.related(0, 3) && !h.related(2, 3));
    for (bad, line) in [("a\tb\nc\n", 2), ("x\tx\n", 1)] {
        match Hierarchy::read_tsv(bad.as_bytes()) {
            Err(EmbedError::Malformed { line: l, .. }) => assert_eq!(l, line),
            other => panic!("expected a malformed-line error, got {other:?}"),
        }
    }
    assert!(matches!(
        Hierarchy::read_tsv("".as_bytes()),
        Err(EmbedError::Empty)
    ));
}

#[test]
fn hasse_hops_of_a_tree_are_tree_distances() {
    let parent = complete_tree(2, 3);
    let h = tree_hierarchy(&parent);
    let hops = hop_distances(&h.hasse_neighbours(), 7); // a leaf
    let depth = |mut u: usize| {
        let mut d = 0;
        while let Some(p) = parent[u] {
            u = p as usize;
            d += 1;
        }
        d
    };
    assert_eq!(hops[0], 3);
    assert_eq!(hops[8], 2, "sibling leaves meet at their parent");
    assert_eq!(hops[14], 6, "leaves in opposite subtrees meet at the root");
    assert_eq!(depth(14), 3);
}

#[test]
fn an_isometric_path_has_no_distortion() {
    // A chain 0 ← 1 ← 2 ← … placed on a line at unit spacing (Euclidean): d_E = d_G exactly.
    let n = 12;
    let parent: Vec<Option<u32>> = (0..n).map(|i| (i > 0).then(|| i as u32 - 1)).collect();
    let h = tree_hierarchy(&parent);
    let vectors: Vec<f32> = (0..n).flat_map(|i| [i as f32 * 0.5, 0.0]).collect();
    let d = distortion(&h, &vectors, 2, Model::Euclidean, None, 2).unwrap();
    assert!(d.average < 1e-6 && (d.worst - 1.0).abs() < 1e-6, "{d:?}");
    assert!((d.scale - 2.0).abs() < 1e-6, "hops per unit length");
}

/// Sarkar's construction of the tree `parent` in `dim` dimensions, every edge checked to have
/// hyperbolic length `tau`.
fn sarkar_with_edges_of_length(parent: &[Option<u32>], tau: f64, dim: usize) -> sarkar::Sarkar {
    let s = sarkar::construct(&tree_hierarchy(parent), Some(tau), dim).unwrap();
    assert_eq!((s.dim, s.vectors.len()), (dim, parent.len() * dim));
    let row = |i: usize| &s.vectors[dim * i..dim * (i + 1)];
    for (u, p) in parent.iter().enumerate() {
        if let Some(p) = p {
            let d = ball_distance(row(u), row(*p as usize));
            assert!((d - tau).abs() < 1e-3, "d = {dim}, edge {u}–{p}: {d}");
        }
    }
    s
}

#[test]
fn sarkar_edges_have_length_tau_and_a_wide_tau_reconstructs_the_tree() {
    let parent = complete_tree(3, 2);
    let h = tree_hierarchy(&parent);
    let s = sarkar_with_edges_of_length(&parent, 5.0, 2);
    let graph = reconstruction(
        &h,
        &s.vectors,
        2,
        Model::Sarkar,
        Relevant::GraphNeighbours,
        None,
        1,
    )
    .unwrap();
    assert_eq!(graph.map, 1.0);
    let d = distortion(&h, &s.vectors, 2, Model::Sarkar, None, 1).unwrap();
    assert!(d.worst < 1.3, "worst distortion {}", d.worst);
}

/// Sala et al.'s construction in d dimensions: every tree edge still has length τ, and where
/// the disk crowds the 12 children of each node (an angle of 27.7° between siblings at
/// τ = 1.5 leaves them closer to each other than to their parent), five dimensions hold
/// the tree — graph MAP 1, and a worst distortion two orders of magnitude below the disk's.
#[test]
fn sarkar_in_more_dimensions_separates_the_siblings_the_disk_crowds() {
    let parent = complete_tree(12, 2);
    let h = tree_hierarchy(&parent);
    let tau = 1.5;
    let measure = |dim: usize| {
        let s = sarkar_with_edges_of_length(&parent, tau, dim);
        let graph = reconstruction(
            &h,
            &s.vectors,
            dim,
            Model::Sarkar,
            Relevant::GraphNeighbours,
            None,
            1,
        );
        let worst = distortion(&h, &s.vectors, dim, Model::Sarkar, None, 1)
            .unwrap()
            .worst;
        (graph.unwrap().map, worst)
    };
    let (plane_map, plane_worst) = measure(2);
    let (ball_map, ball_worst) = measure(5);
    assert!(
        plane_map < 0.9,
        "the disk held 12 children per node at τ 1.5: MAP {plane_map}"
    );
    assert_eq!(ball_map, 1.0, "five dimensions: graph MAP {ball_map}");
    assert!(
        ball_worst < 4.0 && 100.0 * ball_worst < plane_worst,
        "worst distortion {ball_worst} vs {plane_worst}"
    );
    assert!(matches!(
        sarkar::construct(&h, None, 1),
        Err(EmbedError::InvalidParameter(_))
    ));
}

#[test]
fn poincare_training_reconstructs_a_small_tree() {
    let h = tree_hierarchy(&complete_tree(3, 4));
    let params = TrainParams {
        seed: 1,
        ..TrainParams::new(5, 150, 0.3)
    };
    let a = train(&h, Model::Poincare, &params, &|_, _| {}).unwrap();
    let b = train(&h, Model::Poincare, &params, &|_, _| {}).unwrap();
    assert_eq!(a.vectors, b.vectors, "one thread is reproducible from the seed");
    assert!(a.losses.last() < a.losses.first(), "the loss falls");
    let r = reconstruction(&h, &a.vectors, 5, Model::Poincare, Relevant::Ancestors, None, 2).unwrap();
    assert!(r.map >= 0.9, "MAP {}", r.map);
    let want = mean_rank_by_brute_force(&h, &a.vectors, 5);
    assert!(
        (r.mean_rank - want).abs() < 1e-9,
        "mean rank {} vs {want}",
        r.mean_rank
    );
}

/// Nickel & Kiela's mean rank, computed directly: for every (node, ancestor) pair, 1 + the
/// number of non-ancestors strictly nearer the node than that ancestor, by the Poincaré
/// distance arcosh(1 + 2‖u − v‖² / ((1 − ‖u‖²)(1 − ‖v‖²))) in f64.
fn mean_rank_by_brute_force(h: &Hierarchy, vectors: &[f32], dim: usize) -> f64 {
    let row = |i: usize| {
        vectors[i * dim..(i + 1) * dim]
            .iter()
            .map(|&x| x as f64)
            .collect::<Vec<f64>>()
    };
    let dist = |u: &[f64], v: &[f64]| {
        let sq = |x: &[f64]| x.iter().map(|a| a * a).sum::<f64>();
        let diff: f64 = u.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum();
        (1.0 + 2.0 * diff / ((1.0 - sq(u)) * (1.0 - sq(v)))).acosh()
    };
    let (mut ranks, mut pairs) = (0.0, 0usize);
    for u in 0..h.len() {
        let ancestors = h.ancestors(u as u32);
        let du: Vec<f64> = (0..h.len()).map(|w| dist(&row(u), &row(w))).collect();
        for &a in ancestors {
            let nearer = (0..h.len())
                .filter(|&w| w != u && !ancestors.contains(&(w as u32)) && du[w] < du[a as usize])
                .count();
            ranks += 1.0 + nearer as f64;
            pairs += 1;
        }
    }
    ranks / pairs as f64
}

#[test]
fn lorentz_and_hogwild_training_reconstruct_a_small_tree() {
    let h = tree_hierarchy(&complete_tree(3, 4));
    let params = TrainParams {
        threads: 2,
        seed: 2,
        ..TrainParams::new(5, 150, 0.3)
    };
    let out = train(&h, Model::Lorentz, &params, &|_, _| {}).unwrap();
    let r = reconstruction(&h, &out.vectors, 5, Model::Lorentz, Relevant::Ancestors, None, 2).unwrap();
    assert!(r.map >= 0.9, "MAP {}", r.map);
}

#[test]
fn embeddings_outside_the_ball_are_rejected_with_their_row() {
    let h = tree_hierarchy(&complete_tree(2, 1));
    let vectors = [0.0f32, 0.0, 0.5, 0.0, 0.6, 0.8];
    let err = reconstruction(&h, &vectors, 2, Model::Poincare, Relevant::Ancestors, None, 1).unwrap_err();
    assert!(err.to_string().contains("row 2"), "{err}");
    assert!(reconstruction(&h, &vectors, 2, Model::Euclidean, Relevant::Ancestors, None, 1).is_ok());
    assert!(reconstruction(
        &h,
        &vectors[..4],
        2,
        Model::Euclidean,
        Relevant::Ancestors,
        None,
        1
    )
    .is_err());
}

#[test]
fn a_set_cancel_flag_stops_training() {
    let h = tree_hierarchy(&complete_tree(3, 3));
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let params = TrainParams {
        cancel: Some(flag.clone()),
        ..TrainParams::new(5, 50, 0.3)
    };
    let epochs = std::sync::atomic::AtomicUsize::new(0);
    let r = train(&h, Model::Poincare, &params, &|epoch, _| {
        epochs.store(epoch, std::sync::atomic::Ordering::Relaxed);
        if epoch == 3 {
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    assert!(matches!(r, Err(EmbedError::Cancelled)));
    assert_eq!(
        epochs.load(std::sync::atomic::Ordering::Relaxed),
        3,
        "stopped before epoch 4"
    );
}

/// Runs `epochs` epochs of `training`.
fn run_epochs(training: &mut Training, epochs: usize) {
    for _ in 0..epochs {
        training.run_epoch().unwrap();
    }
}

/// Also with hard negatives, whose lists are mined again on the resumed run's first epoch:
/// epoch 7 is a refresh (4 burn-in epochs, then every 3), so the resumed run is exact.
#[test]
fn a_resumed_run_continues_exactly_as_the_uninterrupted_one() {
    let h = tree_hierarchy(&complete_tree(3, 3));
    let models = [Model::Poincare, Model::Lorentz, Model::Euclidean];
    for (model, hard_negatives) in models.iter().flat_map(|&m| [(m, 0.0), (m, 0.3)]) {
        let params = TrainParams {
            seed: 5,
            burn_in: 4,
            schedule: LrSchedule::Linear,
            hard_negatives,
            hard_pool: 5,
            hard_refresh: 3,
            ..TrainParams::new(4, 20, 0.3)
        };
        let straight = train(&h, model, &params, &|_, _| {}).unwrap();

        let mut first = Training::new(&h, model, params.clone()).unwrap();
        run_epochs(&mut first, 7);
        let mut bytes = Vec::new();
        first.checkpoint().write_to(&mut bytes).unwrap();
        drop(first);
        let checkpoint = Checkpoint::read_from(&mut bytes.as_slice()).unwrap();
        assert_eq!(checkpoint.epoch, 7);
        let mut resumed = Training::resume(&h, model, params.clone(), &checkpoint).unwrap();
        run_epochs(&mut resumed, 13);
        let resumed = resumed.finish();
        assert_eq!(resumed.losses, straight.losses, "{model}: the loss curve");
        assert_eq!(resumed.vectors, straight.vectors, "{model}: the points");
    }
}

#[test]
fn checkpoints_refuse_damage_and_other_runs() {
    let h = tree_hierarchy(&complete_tree(3, 3));
    let params = TrainParams {
        seed: 1,
        ..TrainParams::new(4, 10, 0.3)
    };
    let mut training = Training::new(&h, Model::Poincare, params.clone()).unwrap();
    run_epochs(&mut training, 3);
    let mut bytes = Vec::new();
    training.checkpoint().write_to(&mut bytes).unwrap();
    let read = |b: &[u8]| Checkpoint::read_from(&mut &b[..]);

    let truncated = read(&bytes[..bytes.len() - 9]).unwrap_err();
    assert!(
        matches!(truncated, EmbedError::Checkpoint(ref m) if m.contains("checksum")),
        "{truncated}"
    );
    let mut flipped = bytes.clone();
    let at = flipped.len() - 100;
    flipped[at] ^= 0x10;
    assert!(matches!(read(&flipped), Err(EmbedError::Checkpoint(_))));
    assert!(matches!(read(b"GDXEMBCK"), Err(EmbedError::Checkpoint(_))));
    assert!(matches!(read(&[0u8; 64]), Err(EmbedError::Checkpoint(_))));

    let checkpoint = read(&bytes).unwrap();
    let refused = |model: Model, p: TrainParams, hierarchy: &Hierarchy, word: &str| {
        let err = Training::resume(hierarchy, model, p, &checkpoint)
            .err()
            .expect("refused");
        assert!(err.to_string().contains(word), "{word}: {err}");
    };
    refused(Model::Lorentz, params.clone(), &h, "model");
    refused(
        Model::Poincare,
        TrainParams {
            dim: 5,
            ..params.clone()
        },
        &h,
        "dimension",
    );
    refused(
        Model::Poincare,
        TrainParams {
            seed: 2,
            ..params.clone()
        },
        &h,
        "seed",
    );
    refused(
        Model::Poincare,
        TrainParams {
            epochs: 2,
            ..params.clone()
        },
        &h,
        "past",
    );
    let other = tree_hierarchy(&complete_tree(2, 4));
    refused(Model::Poincare, params.clone(), &other, "closure");
    let (split, _) = h.split_validation(0.2, 0).unwrap();
    refused(Model::Poincare, params.clone(), &split, "closure");
}

#[test]
fn the_validation_split_holds_out_only_implied_pairs() {
    let h = tree_hierarchy(&complete_tree(3, 4));
    let (train_split, held) = h.split_validation(0.1, 7).unwrap();
    assert_eq!(held.len(), (0.1 * h.pairs().len() as f64).round() as usize);
    let parents = h.parents();
    for &(c, a) in &held {
        assert!(h.ancestors(c).contains(&a), "a held-out pair is a closure pair");
        assert!(!parents[c as usize].contains(&a), "no reduction edge is held out");
        assert!(
            !train_split.ancestors(c).contains(&a),
            "held out means not trained on"
        );
    }
    assert_eq!(train_split.pairs().len() + held.len(), h.pairs().len());
    assert_eq!(train_split.names(), h.names(), "ids are kept");
    for (u, ps) in parents.iter().enumerate() {
        assert!(
            ps.iter().all(|p| train_split.ancestors(u as u32).contains(p)),
            "node {u} keeps its parents"
        );
    }
    assert_eq!(h.split_validation(0.1, 7).unwrap().1, held, "seeded");
    assert_ne!(h.split_validation(0.1, 8).unwrap().1, held);
    for bad in [0.0, 1.0, -0.5, f64::NAN, 0.99] {
        assert!(h.split_validation(bad, 0).is_err(), "fraction {bad}");
    }
}

#[test]
fn link_prediction_ranks_held_out_ancestors_as_a_brute_force_count_does() {
    let h = tree_hierarchy(&complete_tree(3, 3));
    let (train_split, held) = h.split_validation(0.15, 3).unwrap();
    let mut rng = Rng::new(11);
    let dim = 3;
    let vectors: Vec<f32> = (0..h.len())
        .flat_map(|_| ball_point(&mut rng, dim).into_iter().map(|x| (x * 0.999) as f32))
        .collect();
    let r = link_prediction(&train_split, &held, &vectors, dim, Model::Poincare, None, 2).unwrap();
    // Brute force: for each held-out (u, a), 1 + the nodes w ≠ u that are neither a trained
    // ancestor of u nor a held-out ancestor of u and lie strictly nearer u than a.
    let row = |i: u32| &vectors[i as usize * dim..(i as usize + 1) * dim];
    let hidden = |u: u32| {
        held.iter()
            .filter(|p| p.0 == u)
            .map(|p| p.1)
            .collect::<Vec<u32>>()
    };
    let mut ranks = 0.0;
    for &(u, a) in &held {
        let d = ball_distance(row(u), row(a));
        let nearer = (0..h.len() as u32)
            .filter(|&w| w != u && !train_split.ancestors(u).contains(&w) && !hidden(u).contains(&w))
            .filter(|&w| ball_distance(row(u), row(w)) < d)
            .count();
        ranks += 1.0 + nearer as f64;
    }
    let want = ranks / held.len() as f64;
    assert!((r.mean_rank - want).abs() < 1e-9, "{} vs {want}", r.mean_rank);
    let mut children: Vec<u32> = held.iter().map(|p| p.0).collect();
    children.dedup();
    assert_eq!(r.nodes, children.len());
    assert!(r.map > 0.0 && r.map <= 1.0);
    assert!(link_prediction(
        &train_split,
        &[(0, 9999)],
        &vectors,
        dim,
        Model::Poincare,
        None,
        1
    )
    .is_err());
}

#[test]
fn the_linear_schedule_decays_from_the_rate_to_a_share_of_it() {
    let p = TrainParams {
        burn_in: 10,
        schedule: LrSchedule::Linear,
        ..TrainParams::new(5, 110, 0.5)
    };
    assert_eq!(p.lr_at(0), 0.5 * p.burn_in_factor, "burn-in");
    assert_eq!(p.lr_at(10), 0.5, "full rate after burn-in");
    assert!((p.lr_at(109) - 0.5 / 100.0).abs() < 1e-15, "the last epoch");
    assert!((10..109).all(|e| p.lr_at(e + 1) < p.lr_at(e)), "decreasing");
    let constant = TrainParams {
        schedule: LrSchedule::Constant,
        ..p
    };
    assert!((10..110).all(|e| constant.lr_at(e) == 0.5));
}
