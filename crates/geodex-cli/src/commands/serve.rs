//! `geodex serve`: the Qdrant-compatible REST server (`geodex-server`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::failure::Failure;

/// Arguments of `geodex serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory holding the collections (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port (Qdrant's REST port by default; 0 picks a free one).
    #[arg(long, default_value_t = 6333)]
    pub port: u16,
    /// Require this key in the `api-key` header (or `Authorization: Bearer`) on every route but
    /// the health checks.
    #[arg(long, env = geodex_server::API_KEY_ENV, hide_env_values = true)]
    pub api_key: Option<String>,
    /// Largest request body, MiB.
    #[arg(long, default_value_t = geodex_server::DEFAULT_MAX_BODY >> 20)]
    pub max_request_mb: usize,
    /// Threads serving requests and running index work (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No per-request log lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<(), Failure> {
    if a.api_key.as_deref() == Some("") {
        return Err(Failure::input("--api-key is empty"));
    }
    if a.max_request_mb == 0 {
        return Err(Failure::input("--max-request-mb must be ≥ 1"));
    }
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .init();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(t) = a.threads {
        if t == 0 {
            return Err(Failure::input("--threads must be ≥ 1"));
        }
        runtime.worker_threads(t).max_blocking_threads(t.max(2) * 8);
    }
    let runtime = runtime
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the runtime: {e}")))?;
    let config = geodex_server::ServerConfig {
        data_dir: a.data_dir,
        addr: SocketAddr::new(a.host, a.port),
        api_key: a.api_key,
        max_body: a.max_request_mb << 20,
        log_requests: !a.quiet,
    };
    runtime
        .block_on(geodex_server::run(config))
        .map_err(|e| Failure::runtime(format!("serve: {e}")))
}
