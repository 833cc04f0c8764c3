//! A collection through its Rust API: filtered search against brute force over the matching
//! points, and recovery — a collection dropped without a checkpoint (as by `kill -9`) reopens
//! with every committed write, from the log alone and from a checkpoint plus the log.

use geodex_core::Metric;
use geodex_server::collection::{save_config, Collection, Config, Distance, Search, Selection};
use geodex_server::filter::Filter;
use geodex_server::model::PayloadSelector;
use geodex_server::point_id::PointId;
use geodex_server::points::Payload;
use geodex_testkit::{clustered, naive_knn, reference_distance};
use serde_json::json;

const DIM: usize = 24;

fn config() -> Config {
    Config {
        size: DIM,
        distance: Distance::Euclid,
        m: 12,
        ef_construct: 64,
        full_scan_threshold: 10_000,
        quantization_config: None,
        payload_schema: Default::default(),
        created_at: 0,
    }
}

fn payload(i: usize) -> Payload {
    json!({ "group": format!("g{}", i % 4), "n": i })
        .as_object()
        .unwrap()
        .clone()
}

fn open_new(dir: &std::path::Path) -> Collection {
    save_config(dir, &config()).unwrap();
    Collection::open("c", dir).unwrap()
}

fn upsert_rows(c: &Collection, data: &[f32], range: std::ops::Range<usize>) {
    let ids = range.clone().map(|i| PointId::Num(i as u64)).collect();
    let vectors = range.clone().map(|i| data[i * DIM..][..DIM].to_vec()).collect();
    let payloads = range.map(|i| Some(payload(i))).collect();
    c.upsert(ids, vectors, payloads).unwrap();
}

fn search(c: &Collection, query: &[f32], filter: Option<Filter>, ef: usize) -> Vec<u64> {
    let s = Search {
        filter,
        ef: Some(ef),
        ..Search::nearest(query.to_vec(), 10)
    };
    c.search(&s)
        .unwrap()
        .into_iter()
        .map(|p| match p.id {
            PointId::Num(n) => n,
            PointId::Uuid(_) => unreachable!("numeric ids only"),
        })
        .collect()
}

#[test]
fn filtered_search_finds_the_nearest_matching_points() {
    let dir = tempfile::tempdir().unwrap();
    let c = open_new(dir.path());
    let n = 3000;
    let data = clustered(n + 50, DIM, 12, 0.3, 5);
    upsert_rows(&c, &data, 0..n);
    let queries = &data[n * DIM..];
    // Group g1 is a quarter of the points: above the scan threshold at ef 64, so the walk is
    // restricted inside the graph; n < 30 is 1 %: scanned.
    for (filter, allowed) in [
        (
            json!({"must": [{"key": "group", "match": {"value": "g1"}}]}),
            Box::new(|i: usize| i % 4 == 1) as Box<dyn Fn(usize) -> bool>,
        ),
        (
            json!({"must": [{"key": "n", "range": {"lt": 30}}]}),
            Box::new(|i: usize| i < 30),
        ),
    ] {
        let ids: Vec<usize> = (0..n).filter(|&i| allowed(i)).collect();
        let rows: Vec<f32> = ids
            .iter()
            .flat_map(|&i| data[i * DIM..][..DIM].to_vec())
            .collect();
        let truth = naive_knn(&rows, queries, DIM, 10, Metric::L2);
        let mut hits = 0;
        for (q, t) in queries.chunks_exact(DIM).zip(&truth) {
            let got = search(&c, q, Filter::parse(&filter).unwrap(), 64);
            assert!(
                got.iter().all(|&k| allowed(k as usize)),
                "{filter}: a point outside the filter"
            );
            hits += t
                .iter()
                .filter(|&&j| got.contains(&(ids[j as usize] as u64)))
                .count();
        }
        let recall = hits as f64 / (truth.len() * 10) as f64;
        assert!(recall >= 0.95, "{filter}: recall {recall}");
    }
    // Scores are Euclidean distances (geodex ranks by their squares).
    let q = &queries[..DIM];
    let s = Search {
        vector: q.to_vec(),
        filter: None,
        limit: 1,
        offset: 0,
        ef: None,
        exact: true,
        score_threshold: None,
        with_payload: PayloadSelector::All,
        with_vector: false,
    };
    let best = c.search(&s).unwrap().remove(0);
    let PointId::Num(k) = best.id else { unreachable!() };
    let want = reference_distance(Metric::L2, q, &data[k as usize * DIM..][..DIM]).sqrt();
    assert!((best.score as f64 - want).abs() < 1e-4 * want.max(1.0));
    assert_eq!(best.payload, Some(payload(k as usize)));
}

#[test]
fn a_collection_dropped_without_a_checkpoint_reopens_with_every_committed_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = clustered(1200, DIM, 8, 0.3, 9);
    let probe = &data[1100 * DIM..][..DIM];
    let (before, count) = {
        let c = open_new(dir.path());
        upsert_rows(&c, &data, 0..600);
        c.checkpoint().unwrap();
        upsert_rows(&c, &data, 600..1000);
        c.delete(&Selection::Ids((0..50).map(PointId::Num).collect()))
            .unwrap();
        let evens = Filter::parse(&json!({"must": [{"key": "group", "match": {"value": "g2"}}]}))
            .unwrap()
            .unwrap();
        c.delete(&Selection::Filter(evens)).unwrap();
        c.change_payloads(&Selection::Ids(vec![PointId::Num(999)]), |p| {
            p.insert("seen".into(), json!(true));
        })
        .unwrap();
        (search(&c, probe, None, 200), c.len())
    };
    assert!(dir.path().join("index.gdx").exists());
    let c = Collection::open("c", dir.path()).unwrap();
    assert_eq!(c.len(), count);
    assert_eq!(count, 1000 - 50 - (50..1000).filter(|i| i % 4 == 2).count());
    assert_eq!(search(&c, probe, None, 200), before);
    let got = c.retrieve(
        &[PointId::Num(999), PointId::Num(3), PointId::Num(6)],
        &PayloadSelector::All,
        true,
    );
    assert_eq!(got.len(), 1, "point 3 was deleted by id, 6 by filter");
    assert_eq!(got[0].payload.as_ref().unwrap()["seen"], json!(true));
    assert_eq!(got[0].vector.as_deref(), Some(&data[999 * DIM..][..DIM]));
}
