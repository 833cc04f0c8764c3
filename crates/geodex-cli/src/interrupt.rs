//! Ctrl-C. The first SIGINT sets one process-wide [`Cancel`] flag: a build stops between
//! nodes and writes no file; `insert` and `delete` stop before their next batch (a delete's
//! graph repair stops between nodes) and checkpoint what was acknowledged — or, if a repair is
//! left unfinished, leave it in the write-ahead log for the next run; `compact` stops and
//! changes nothing; the command then exits with code 130. A second SIGINT exits at once
//! (still with nothing half-written: files are replaced atomically and the write-ahead log
//! drops a torn record).

use std::sync::OnceLock;

use geodex_core::Cancel;

use crate::failure::Failure;

static FLAG: OnceLock<Cancel> = OnceLock::new();

/// The process-wide flag.
pub fn flag() -> Cancel {
    FLAG.get_or_init(Cancel::new).clone()
}

/// Installs the SIGINT handler (once, at start-up). Without one (the platform refused), Ctrl-C
/// keeps its default effect.
pub fn install() {
    let flag = flag();
    let _ = ctrlc::set_handler(move || {
        if flag.is_cancelled() {
            std::process::exit(130);
        }
        flag.cancel();
    });
}

/// `Err(interrupted)` once Ctrl-C was pressed; `done` says what was finished.
pub fn check(done: impl FnOnce() -> String) -> Result<(), Failure> {
    if flag().is_cancelled() {
        return Err(Failure::interrupted(format!("interrupted; {}", done())));
    }
    Ok(())
}
