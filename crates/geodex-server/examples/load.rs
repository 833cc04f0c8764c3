//! Load test of `geodex serve` against the same searches in process (BENCHMARKS.md, issue 19).
//!
//! Loads the first `--n` rows of a vector file into a running server (HTTP, batches of 1,000
//! with a payload each) and into a [`Collection`] in this process (the server's own code path
//! without HTTP), picks the smallest ef whose recall@10 over HTTP reaches `--target`, then
//! measures, interleaved over `--rounds`: the in-process searches on `--threads` threads, and
//! `--clients` concurrent HTTP clients (one keep-alive connection each, closed loop) sending
//! `query` requests — `--writers` of them upserting batches of 100 instead, for a mixed load;
//! with `--batch B`, each request carries B searches (`query/batch`, as `query_batch_points`
//! sends them); with `--by-id`, the queries are the first `--nq` stored points and each search
//! names its point (`"query": id`) instead of carrying the vector, so no floats are parsed —
//! what HTTP costs without the vector's JSON (the server searches k + 1 and drops the point
//! itself; in process searches the same vectors the same way). Prints one JSON object per
//! measurement (QPS counts searches, latencies are per request).
//!
//! ```sh
//! geodex serve --data-dir /tmp/load --port 6333 --quiet &
//! cargo run --release -p geodex-server --example load -- --url http://127.0.0.1:6333 \
//!     --base ../shared/data/sift-debian/base.bvecs --queries ../shared/data/sift-debian/query.bvecs --distance Euclid
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use geodex_io::Role;
use geodex_server::collection::{save_config, Collection, Config, Distance, Search};
use geodex_server::point_id::PointId;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use serde_json::{json, Value};

#[derive(Parser, Debug)]
struct Args {
    /// The server.
    #[arg(long)]
    url: String,
    /// Base vectors (first --n rows are loaded).
    #[arg(long)]
    base: PathBuf,
    /// Query vectors.
    #[arg(long)]
    queries: PathBuf,
    /// Cosine | Euclid | Dot.
    #[arg(long)]
    distance: String,
    #[arg(long, default_value_t = 20_000)]
    n: usize,
    /// Queries used (cycled through by the load).
    #[arg(long, default_value_t = 1_000)]
    nq: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Of the clients, how many upsert instead of search.
    #[arg(long, default_value_t = 0)]
    writers: usize,
    /// Threads of the in-process run.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Interleaved rounds (in process, HTTP, in process, HTTP, …).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Recall@10 the ef is chosen for.
    #[arg(long, default_value_t = 0.95)]
    target: f64,
    /// Searches per HTTP request (1: `points/query`; more: `points/query/batch`).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Search by stored point id instead of sending vectors.
    #[arg(long)]
    by_id: bool,
}

const K: usize = 10;
const COLLECTION: &str = "load";

/// One HTTP/1.1 keep-alive connection.
struct Conn {
    send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    async fn open(url: &str) -> Conn {
        let host = url.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let stream = tokio::net::TcpStream::connect(&host).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        Conn { send, host }
    }

    async fn call(&mut self, method: &str, path: &str, body: Bytes) -> Bytes {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("content-type", "application/json")
            .body(Full::new(body))
            .expect("request");
        let response = self.send.send_request(request).await.expect("send");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        assert!(
            status.is_success(),
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        bytes
    }
}

fn read_f32(path: &std::path::Path, limit: usize) -> (Vec<f32>, usize) {
    let m = geodex_io::read_vectors(path, Role::Base)
        .expect("read")
        .truncated(limit)
        .into_f32();
    (m.as_slice().to_vec(), m.dim())
}

/// One search of query `i`: its vector, or (`by_id`) the id of the stored point it is.
fn query_json(queries: &[f32], dim: usize, i: usize, ef: usize, by_id: bool) -> Value {
    let params = json!({ "hnsw_ef": ef });
    match by_id {
        true => json!({ "query": i, "limit": K, "params": params }),
        false => json!({ "query": &queries[i * dim..][..dim], "limit": K, "params": params }),
    }
}

/// The body asking the queries `rows`: one search (`points/query`) or a `query/batch`.
fn request_body(queries: &[f32], dim: usize, rows: &[usize], ef: usize, by_id: bool) -> Bytes {
    let body = match rows {
        [i] => query_json(queries, dim, *i, ef, by_id),
        _ => {
            let searches: Vec<Value> = rows
                .iter()
                .map(|&i| query_json(queries, dim, i, ef, by_id))
                .collect();
            json!({ "searches": searches })
        }
    };
    Bytes::from(serde_json::to_vec(&body).expect("json"))
}

#[derive(serde::Deserialize)]
struct QueryReply {
    result: QueryPoints,
}

#[derive(serde::Deserialize)]
struct QueryPoints {
    points: Vec<Hit>,
}

#[derive(serde::Deserialize)]
struct Hit {
    id: u64,
}

#[derive(serde::Deserialize)]
struct BatchReply {
    result: Vec<QueryPoints>,
}

fn ids_of(body: &[u8]) -> Vec<u64> {
    serde_json::from_slice::<QueryReply>(body)
        .map(|r| r.result.points.into_iter().map(|h| h.id).collect())
        .unwrap_or_default()
}

/// The ids of each search of a `query/batch` reply.
fn batch_ids_of(body: &[u8]) -> Vec<Vec<u64>> {
    serde_json::from_slice::<BatchReply>(body)
        .map(|r| {
            r.result
                .into_iter()
                .map(|p| p.points.into_iter().map(|h| h.id).collect())
                .collect()
        })
        .unwrap_or_default()
}

fn hits(got: &[u64], truth: &[u32]) -> usize {
    truth.iter().filter(|t| got.contains(&(**t as u64))).count()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// What a set of clients measured: latency per search, true neighbours found, searches asked.
#[derive(Default)]
struct Tally {
    latencies: Vec<f64>,
    found: usize,
    asked: usize,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.found += other.found;
        self.asked += other.asked;
    }
}

fn report(kind: &str, args: &Args, ef: usize, mut tally: Tally, seconds: f64, extra: Value) {
    let (latencies, found, asked) = (&mut tally.latencies, tally.found, tally.asked);
    latencies.sort_by(|a, b| a.total_cmp(b));
    let mut out = json!({
        "kind": kind,
        "base": args.base.display().to_string(),
        "n": args.n,
        "ef": ef,
        "queries": asked,
        "requests": latencies.len(),
        "batch": args.batch,
        "qps": asked as f64 / seconds,
        "recall": found as f64 / (asked * K) as f64,
        "p50_ms": percentile(latencies, 0.5) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
    });
    if let (Value::Object(o), Value::Object(e)) = (&mut out, extra) {
        o.extend(e);
    }
    println!("{out}");
}

fn main() {
    let args = Args::parse();
    let distance = Distance::parse(&args.distance).expect("distance");
    let (base, dim) = read_f32(&args.base, args.n);
    let (queries, qdim) = match args.by_id {
        true => (base[..args.nq.min(base.len() / dim) * dim].to_vec(), dim),
        false => read_f32(&args.queries, args.nq),
    };
    assert_eq!(dim, qdim);
    let n = base.len() / dim;
    let nq = queries.len() / dim;
    let metric = distance.metric();
    // By id, a query is stored point i and its answer leaves i out (as Qdrant's does).
    let skip = args.by_id as usize;
    let truth: Vec<Vec<u32>> = geodex_core::exact::exact_knn(&base, &queries, dim, K + skip, metric, &|_| {})
        .expect("ground truth")
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let others = row
                .into_iter()
                .map(|nb| nb.id)
                .filter(|&id| skip == 0 || id as usize != i);
            others.take(K).collect()
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // The collection over HTTP and in process, loaded the same way.
    let mut conn = runtime.block_on(Conn::open(&args.url));
    let path = format!("/collections/{COLLECTION}");
    let _ = runtime.block_on(async {
        let request = Request::builder()
            .method("DELETE")
            .uri(&path)
            .header("host", &conn.host)
            .body(Full::new(Bytes::new()))
            .expect("request");
        conn.send.send_request(request).await.map(|r| r.status())
    });
    let create = json!({ "vectors": { "size": dim, "distance": args.distance } });
    runtime.block_on(conn.call("PUT", &path, Bytes::from(create.to_string())));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        size: dim,
        distance,
        m: 16,
        ef_construct: 100,
        full_scan_threshold: 10_000,
        quantization_config: None,
        payload_schema: Default::default(),
        created_at: 0,
    };
    save_config(dir.path(), &config).expect("config");
    let local = Arc::new(Collection::open(COLLECTION, dir.path()).expect("collection"));
    let started = Instant::now();
    for start in (0..n).step_by(1000) {
        let rows: Vec<usize> = (start..(start + 1000).min(n)).collect();
        let points: Vec<Value> = rows
            .iter()
            .map(|&i| json!({ "id": i, "vector": &base[i * dim..][..dim], "payload": { "n": i } }))
            .collect();
        let body = Bytes::from(json!({ "points": points }).to_string());
        runtime.block_on(conn.call("PUT", &format!("{path}/points"), body));
    }
    let http_load = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for start in (0..n).step_by(1000) {
        let rows: Vec<usize> = (start..(start + 1000).min(n)).collect();
        local
            .upsert(
                rows.iter().map(|&i| PointId::Num(i as u64)).collect(),
                rows.iter().map(|&i| base[i * dim..][..dim].to_vec()).collect(),
                rows.iter()
                    .map(|&i| Some(json!({ "n": i }).as_object().expect("object").clone()))
                    .collect(),
            )
            .expect("upsert");
    }
    let local_load = started.elapsed().as_secs_f64();
    eprintln!("loaded {n} rows: HTTP {http_load:.1} s, in process {local_load:.1} s");

    // The smallest ef reaching the target over HTTP (warms both sides' search path too).
    let mut ef = 0;
    for candidate in [
        10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 64, 80, 100, 128, 160, 200, 256,
    ] {
        let found: usize = (0..nq)
            .map(|i| {
                let r = runtime.block_on(conn.call(
                    "POST",
                    &format!("{path}/points/query"),
                    request_body(&queries, dim, &[i], candidate, args.by_id),
                ));
                hits(&ids_of(&r), &truth[i])
            })
            .sum();
        let recall = found as f64 / (nq * K) as f64;
        eprintln!("ef {candidate}: recall {recall:.4}");
        if recall >= args.target {
            ef = candidate;
            break;
        }
    }
    assert!(ef > 0, "no ef reached the target");
    for round in 0..args.rounds {
        in_process(&args, &local, &queries, dim, &truth, ef, round);
        runtime.block_on(over_http(&args, &queries, dim, &truth, ef, round, &base));
    }
}

fn in_process(
    args: &Args,
    local: &Arc<Collection>,
    queries: &[f32],
    dim: usize,
    truth: &[Vec<u32>],
    ef: usize,
    round: usize,
) {
    let nq = queries.len() / dim;
    let next = AtomicUsize::new(0);
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let per_thread: Vec<Tally> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..args.threads)
            .map(|_| {
                s.spawn(|| {
                    let mut tally = Tally::default();
                    while Instant::now() < deadline {
                        let i = next.fetch_add(1, Ordering::Relaxed) % nq;
                        let t = Instant::now();
                        // By id, the server's work: k + 1 nearest, the point itself left out.
                        let search = Search {
                            ef: Some(ef),
                            ..Search::nearest(queries[i * dim..][..dim].to_vec(), K + args.by_id as usize)
                        };
                        let got: Vec<u64> = local
                            .search(&search)
                            .expect("search")
                            .into_iter()
                            .filter_map(|p| match p.id {
                                PointId::Num(k) if !args.by_id || k != i as u64 => Some(k),
                                _ => None,
                            })
                            .take(K)
                            .collect();
                        tally.latencies.push(t.elapsed().as_secs_f64());
                        tally.found += hits(&got, &truth[i]);
                        tally.asked += 1;
                    }
                    tally
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut tally = Tally::default();
    per_thread.into_iter().for_each(|t| tally.add(t));
    report(
        "in_process",
        args,
        ef,
        tally,
        seconds,
        json!({ "threads": args.threads, "round": round }),
    );
}

async fn over_http(
    args: &Args,
    queries: &[f32],
    dim: usize,
    truth: &[Vec<u32>],
    ef: usize,
    round: usize,
    base: &[f32],
) {
    let nq = queries.len() / dim;
    let n = base.len() / dim;
    // Request r asks queries r·B … r·B + B − 1 (mod nq).
    let batch = args.batch.max(1);
    let rows_of = |r: usize| -> Vec<usize> { (0..batch).map(|j| (r * batch + j) % nq).collect() };
    let bodies: Arc<Vec<Bytes>> = Arc::new(
        (0..nq)
            .map(|r| request_body(queries, dim, &rows_of(r), ef, args.by_id))
            .collect(),
    );
    let asks: Arc<Vec<Vec<usize>>> = Arc::new((0..nq).map(rows_of).collect());
    let truth = Arc::new(truth.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let written = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..args.clients {
        let mut conn = Conn::open(&args.url).await;
        let (bodies, asks, truth, next, written) = (
            bodies.clone(),
            asks.clone(),
            truth.clone(),
            next.clone(),
            written.clone(),
        );
        let writer = client < args.writers;
        // Upserts rewrite existing points with their own vectors (new nodes and links each
        // time, the same answers), so the ground truth holds during the mixed load.
        let upserts: Vec<Bytes> = if writer {
            (0..20)
                .map(|b| {
                    let points: Vec<Value> = (0..100)
                        .map(|j| {
                            let row = (b * 100 + j + client * 2000) % n;
                            json!({ "id": row, "vector": &base[row * dim..][..dim], "payload": {"n": row} })
                        })
                        .collect();
                    Bytes::from(json!({ "points": points }).to_string())
                })
                .collect()
        } else {
            Vec::new()
        };
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut b = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                if writer {
                    conn.call(
                        "PUT",
                        &format!("/collections/{COLLECTION}/points"),
                        upserts[b % upserts.len()].clone(),
                    )
                    .await;
                    b += 1;
                    written.fetch_add(100, Ordering::Relaxed);
                    continue;
                }
                let i = next.fetch_add(1, Ordering::Relaxed) % bodies.len();
                let route = if batch == 1 { "query" } else { "query/batch" };
                let r = conn
                    .call(
                        "POST",
                        &format!("/collections/{COLLECTION}/points/{route}"),
                        bodies[i].clone(),
                    )
                    .await;
                tally.latencies.push(t.elapsed().as_secs_f64());
                let answers = if batch == 1 {
                    vec![ids_of(&r)]
                } else {
                    batch_ids_of(&r)
                };
                assert_eq!(answers.len(), asks[i].len(), "one answer per search");
                for (got, &q) in answers.iter().zip(&asks[i]) {
                    tally.found += hits(got, &truth[q]);
                }
                tally.asked += asks[i].len();
            }
            tally
        }));
    }
    let mut tally = Tally::default();
    for t in tasks {
        tally.add(t.await.expect("client"));
    }
    let seconds = started.elapsed().as_secs_f64();
    let extra = json!({
        "clients": args.clients,
        "writers": args.writers,
        "upserted_points_per_s": written.load(Ordering::Relaxed) as f64 / seconds,
        "round": round,
    });
    report("http", args, ef, tally, seconds, extra);
}
