//! Request counts and latencies by route, in Prometheus' text exposition format (version
//! 0.0.4), kept by hand: a few counters and one histogram do not need a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use parking_lot::Mutex;

/// Upper bounds of the latency histogram's buckets, seconds.
pub const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Route {
    /// Requests by status code.
    by_status: BTreeMap<u16, u64>,
    /// Cumulative counts per bucket bound (the last one is +Inf).
    buckets: [u64; BUCKETS.len() + 1],
    seconds: f64,
}

/// Counters of all requests since start: route → method → counters (looked up without
/// allocating; a key is stored once, the first time it is seen).
#[derive(Debug, Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<String, BTreeMap<String, Route>>>,
}

/// A gauge line for [`Metrics::render`]: name, labels, value.
pub type Gauge = (&'static str, Vec<(&'static str, String)>, f64);

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn labels(pairs: &[(&str, String)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

impl Metrics {
    /// Records one request to `route` (the matched path pattern, not the raw path).
    pub fn record(&self, method: &str, route: &str, status: u16, took: Duration) {
        let mut routes = self.routes.lock();
        if !routes.contains_key(route) {
            routes.insert(route.to_owned(), BTreeMap::new());
        }
        let methods = routes.get_mut(route).expect("inserted");
        if !methods.contains_key(method) {
            methods.insert(method.to_owned(), Route::default());
        }
        let r = methods.get_mut(method).expect("inserted");
        *r.by_status.entry(status).or_default() += 1;
        let s = took.as_secs_f64();
        r.seconds += s;
        let first = BUCKETS.iter().position(|&b| s <= b).unwrap_or(BUCKETS.len());
        r.buckets[first..].iter_mut().for_each(|c| *c += 1);
    }

    /// The exposition text: request counters, the latency histogram, then `gauges`.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let routes: Vec<((String, String), Route)> = self
            .routes
            .lock()
            .iter()
            .flat_map(|(route, methods)| {
                methods
                    .iter()
                    .map(|(method, r)| ((method.clone(), route.clone()), r.clone()))
            })
            .collect();
        let mut out = String::new();
        out.push_str("# HELP geodex_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE geodex_http_requests_total counter\n");
        for ((method, route), r) in &routes {
            for (status, n) in &r.by_status {
                let l = labels(&[
                    ("method", method.clone()),
                    ("route", route.clone()),
                    ("status", status.to_string()),
                ]);
                let _ = writeln!(out, "geodex_http_requests_total{l} {n}");
            }
        }
        out.push_str("# HELP geodex_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE geodex_http_request_duration_seconds histogram\n");
        for ((method, route), r) in &routes {
            let base = [("method", method.clone()), ("route", route.clone())];
            for (i, count) in r.buckets.iter().enumerate() {
                let le = BUCKETS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
                let l = labels(&[base[0].clone(), base[1].clone(), ("le", le)]);
                let _ = writeln!(out, "geodex_http_request_duration_seconds_bucket{l} {count}");
            }
            let l = labels(&base);
            let _ = writeln!(out, "geodex_http_request_duration_seconds_sum{l} {}", r.seconds);
            let _ = writeln!(
                out,
                "geodex_http_request_duration_seconds_count{l} {}",
                r.buckets[BUCKETS.len()]
            );
        }
        let mut declared = std::collections::HashSet::new();
        for (name, pairs, value) in gauges {
            if declared.insert(*name) {
                let _ = writeln!(out, "# TYPE {name} gauge");
            }
            let _ = writeln!(out, "{name}{} {value}", labels(pairs));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_counts_add_up() {
        let m = Metrics::default();
        for (ms, status) in [(0.2, 200), (3.0, 200), (3.0, 400), (7000.0, 200)] {
            m.record(
                "POST",
                "/collections/{name}/points/search",
                status,
                Duration::from_secs_f64(ms / 1000.0),
            );
        }
        let text = m.render(&[("geodex_points", vec![("collection", "a\"b".into())], 5.0)]);
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("{needle}\n{text}"))
        };
        assert!(line("status=\"200\"").ends_with(" 3"));
        assert!(line("status=\"400\"").ends_with(" 1"));
        assert!(line("le=\"0.0005\"").ends_with(" 1"));
        assert!(line("le=\"0.005\"").ends_with(" 3"));
        assert!(line("le=\"5\"").ends_with(" 3"));
        assert!(line("le=\"+Inf\"").ends_with(" 4"));
        assert!(line("_count").ends_with(" 4"));
        assert!(line("geodex_points{").contains("collection=\"a\\\"b\""));
    }
}
