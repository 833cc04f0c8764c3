//! The human-readable table of `geodex analyze`, printed from its JSON value.

use serde_json::json;

fn print_topology(t: &serde_json::Value) {
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "-- topology of the level-0 edge-length filtration ({} s)",
        t["seconds"]
    );
    println!(
        "β₀ / β₁ at the end    {} / {} ({} nodes, {} edges)",
        t["beta0_final"], t["beta1_final"], t["nodes"], t["edges"]
    );
    let q = t["beta0_death_quantiles"].as_array().cloned().unwrap_or_default();
    let at = |i: usize| q.get(i).and_then(|x| x.as_f64()).unwrap_or(f64::NAN);
    println!(
        "β₀ bar deaths         min {:.4}, median {:.4}, 90 % {:.4}, max {:.4}",
        at(0),
        at(5),
        at(9),
        at(10)
    );
    println!(
        "redundant links       {} ({:.1} %): each closes a cycle a triangle of shorter links fills",
        t["redundant_links"],
        100.0 * f(t, "redundant_share")
    );
    println!("percolation           removed  giant  components  recall");
    for s in t["percolation"].as_array().into_iter().flatten() {
        let recall = s
            .get("recall")
            .and_then(|r| r.as_f64())
            .map_or("-".to_string(), |r| format!("{r:.4}"));
        println!(
            "                      {:>6.2}  {:>6.4}  {:>10}  {recall:>6}",
            f(s, "removed"),
            f(s, "giant_fraction"),
            s["components"]
        );
    }
    let threshold = t["percolation_threshold"]
        .as_f64()
        .map_or("not reached".to_string(), |x| format!("{x:.2}"));
    println!("giant < 50 % from     {threshold} of links removed");
}

fn print_geometry(g: &serde_json::Value) {
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "-- geometry ({} s; {} sampled points, k = {})",
        g["seconds"], g["sample"], g["k"]
    );
    println!("ambient dimension     {}", g["ambient_dim"]);
    println!(
        "intrinsic dimension   MLE {:.2}, TwoNN {:.2}",
        f(g, "intrinsic_dim_mle"),
        f(g, "intrinsic_dim_twonn")
    );
    println!(
        "CV of squared dists   {:.4} (√(2/D) = {:.4}, √(2/d_MLE) = {:.4})",
        f(g, "cv_squared_distances"),
        f(g, "cv_predicted_ambient"),
        f(g, "cv_predicted_intrinsic")
    );
    println!("relative contrast     {:.3}", f(g, "relative_contrast"));
    if let Some(q) = g.get("queries") {
        println!(
            "queries               {} at ef {}: mean recall@{} {:.4}, mean LID {:.2}, {:.1} distances and {:.1} hops per search",
            q["queries"],
            q["ef"],
            q["k"],
            f(q, "mean_recall"),
            f(q, "mean_lid"),
            f(q, "mean_distances"),
            f(q, "mean_hops")
        );
        println!(
            "LID vs work           Spearman ρ(LID, recall) = {:+.3}, ρ(LID, distances) = {:+.3}",
            f(q, "spearman_lid_recall"),
            f(q, "spearman_lid_distances")
        );
    }
}

fn print_bounds(b: &serde_json::Value) {
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let mb = |v: &serde_json::Value, k: &str| f(v, k) / 8e6;
    let bits = &b["bits"];
    println!("-- bounds ({} s)", b["seconds"]);
    println!(
        "bits (MB)             vectors {:.2}, links as stored {:.2} ({} links; {:.2} at ⌈log₂N⌉ bits each), keys+levels {:.2}, file {}",
        mb(bits, "vector_bits"),
        mb(bits, "link_slot_bits"),
        bits["links"],
        mb(bits, "link_information_bits"),
        mb(bits, "key_and_level_bits"),
        bits["file_bits"].as_f64().map_or("-".into(), |x| format!("{:.2}", x / 8e6))
    );
    println!(
        "§1.1                  corrected N·d·b + N·M₀·⌈log₂N⌉ = {:.2} MB; text's product N·d·M·⌈log₂N⌉ = {:.2} MB",
        mb(bits, "corrected_hnsw_bits"),
        mb(bits, "text_product_bits")
    );
    println!(
        "                      lower bound N·d·log₂(1/ε)·log₂(1/δ) at ε = {}, δ = {}: {:.2} MB; index / bound = {:.2}",
        bits["epsilon"],
        bits["delta"],
        mb(bits, "lower_bound_bits"),
        f(bits, "overhead_over_bound")
    );
    if let Some(c) = b.get("approximation").filter(|c| !c.is_null()) {
        println!(
            "§6.2 c = d(k-th found)/d(k-th true), ef {}: mean {:.4}, p50 {:.4}, p90 {:.4}, p99 {:.4}, max {:.4}; ≤ 1.05: {:.1} %, ≤ 1.2: {:.1} %",
            c["ef"],
            f(c, "mean"),
            f(c, "p50"),
            f(c, "p90"),
            f(c, "p99"),
            f(c, "max"),
            100.0 * f(c, "within_1_05"),
            100.0 * f(c, "within_1_2")
        );
    }
    if let Some(rows) = b.get("chernoff").and_then(|r| r.as_array()) {
        println!("§7.1 mean recall p = {:.4}   ε   P[recall ≥ p−ε] measured   Hoeffding bound   P[recall ≥ 1−ε] (text's form)", f(b, "mean_recall"));
        for r in rows {
            println!(
                "                          {:>4.2}   {:>8.4}                  {:>8.4}          {:>8.4}",
                f(r, "epsilon"),
                f(r, "measured"),
                f(r, "bound"),
                f(r, "measured_text_form")
            );
        }
    }
    if let Some(u) = b.get("union_bound") {
        // "ef:rate" for each (ef, rate) pair of a list.
        let by_ef = |key: &str| -> String {
            let pairs = u[key].as_array().into_iter().flatten();
            let shown: Vec<String> = pairs
                .map(|p| format!("{}:{:.4}", p[0], p[1].as_f64().unwrap_or(f64::NAN)))
                .collect();
            shown.join(" ")
        };
        println!(
            "§7.2 batch of {} at P ≥ {}: per-query failure (recall < {}) must be ≤ {:.2e}; measured ef:rate {}",
            u["batch"],
            u["batch_success"],
            u["target_recall"],
            f(u, "per_query_failure_allowed"),
            by_ef("failure_by_ef")
        );
        println!(
            "                      certified at 95 % (Clopper–Pearson upper bound) {}",
            by_ef("failure_upper_95")
        );
        let resolution = f(u, "resolution");
        let note = if f(u, "per_query_failure_allowed") < resolution {
            format!(
                " (resolution-limited: with no failure these queries certify only {resolution:.1e}; about {:.0} are needed)",
                3.0 / f(u, "per_query_failure_allowed")
            )
        } else {
            String::new()
        };
        println!(
            "                      ef required: {}{note}",
            u["ef_required"]
                .as_u64()
                .map_or("none of the measured".to_string(), |e| e.to_string())
        );
    }
}

fn print_compression(c: &serde_json::Value) {
    println!(
        "-- compression: bytes per file section vs lower bound ({} s; quant {}, {} bytes resident, {} of them made in memory, {} byte codes walked)",
        c["seconds"],
        c["quant"].as_str().unwrap_or("none"),
        c["ram_bytes"],
        c["derived_bytes"],
        c["walk_code_bytes"]
    );
    println!("section        bytes        bound    × bound  resident");
    let opt = |v: &serde_json::Value, digits: usize| {
        v.as_f64().map_or("-".to_string(), |x| format!("{x:.digits$}"))
    };
    for s in c["sections"].as_array().into_iter().flatten() {
        println!(
            "{:<12} {:>11} {:>12} {:>8}  {}",
            s["section"].as_str().unwrap_or(""),
            s["bytes"],
            opt(&s["bound_bytes"], 0),
            opt(&s["overhead"], 2),
            if s["resident"] == json!(true) { "yes" } else { "" }
        );
    }
    println!(
        "total        {:>11} {:>12.0} (bounds where defined)",
        c["total_bytes"],
        c["total_bound_bytes"].as_f64().unwrap_or(f64::NAN)
    );
}

pub fn print_table(v: &serde_json::Value) {
    println!("index                 {}", v["index"].as_str().unwrap_or(""));
    println!("nodes                 {}", v["nodes"]);
    if let Some(g) = v.get("graph") {
        println!("-- graph ({} s)", g["seconds"]);
        println!(
            "unreachable           {} (from the entry point, level 0)",
            g["unreachable"]
        );
        println!(
            "level-0 SCCs          {} (largest {} nodes)",
            g["level0_scc_count"], g["level0_largest_scc"]
        );
        let h = &g["level0_hops"];
        println!(
            "level-0 hops          mean {:.2}, diameter ≥ {} ({} BFS sources)",
            h["mean_distance"].as_f64().unwrap_or(0.0),
            h["diameter_lower_bound"],
            h["sources"]
        );
        for l in g["levels"].as_array().into_iter().flatten() {
            let (o, i) = (&l["out_degree"], &l["in_degree"]);
            println!(
                "level {:<2} {:>9} nodes  out-degree {}–{} mean {:.2}   in-degree {}–{} mean {:.2}",
                l["level"].as_u64().unwrap_or(0),
                l["nodes"],
                o["min"],
                o["max"],
                o["mean"].as_f64().unwrap_or(0.0),
                i["min"],
                i["max"],
                i["mean"].as_f64().unwrap_or(0.0)
            );
        }
    }
    if let Some(t) = v.get("topology") {
        print_topology(t);
    }
    if let Some(g) = v.get("geometry") {
        print_geometry(g);
    }
    if let Some(b) = v.get("bounds") {
        print_bounds(b);
    }
    if let Some(c) = v.get("compression") {
        print_compression(c);
    }
    if let Some(s) = v.get("spectral") {
        let f = |k: &str| s[k].as_f64().unwrap_or(f64::NAN);
        println!("-- spectral, symmetrised level 0 ({} s)", s["seconds"]);
        println!("edges                 {}", s["edges"]);
        println!("λ₂ (L = D − A)        {:.6}", f("lambda2"));
        println!("λ₂ (normalised)       {:.6}", f("lambda2_normalized"));
        println!(
            "Cheeger               λ₂/2 = {:.6} ≤ sweep conductance {:.6} ≤ √(2λ₂) = {:.6}: {}",
            f("cheeger_lower"),
            f("conductance"),
            f("cheeger_upper"),
            if s["cheeger_holds"] == json!(true) {
                "holds"
            } else {
                "VIOLATED"
            }
        );
        println!("sweep cut             {} nodes on its first side", s["cut_size"]);
        println!(
            "edge expansion        λ₂(L)/2 = {:.6} ≤ sweep of L's Fiedler vector {:.6} ({} nodes) ≤ √(2·d_max·λ₂(L)) = {:.6} (d_max {}): {}",
            f("expansion_lower"),
            f("edge_expansion"),
            s["expansion_cut_size"],
            f("expansion_upper"),
            s["max_degree"],
            if s["expansion_bounds_hold"] == json!(true) {
                "holds"
            } else {
                "VIOLATED"
            }
        );
        println!(
            "solver                {} operator applications, residuals {:.1e} / {:.1e}{}",
            s["matvecs"],
            f("residual"),
            f("residual_normalized"),
            if s["converged"] == json!(true) {
                ""
            } else {
                " (NOT converged)"
            }
        );
    }
}
