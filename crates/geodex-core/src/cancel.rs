//! Cooperative cancellation of long operations: a shared flag that builds and compactions
//! check between units of work (one node linked, one list rewritten), so an interrupted
//! operation stops within one unit and returns [`crate::CoreError::Cancelled`] instead of a
//! result — leaving nothing half-written, because nothing is written until it succeeds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A cancellation flag; clones share it. The default is a fresh flag nobody has set.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag nobody has set.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks every operation holding a clone of this flag to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Cancel::cancel`] was called on any clone.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The flag itself, for crates that take a plain `AtomicBool` (the embedding trainer).
    pub fn shared(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }

    /// `Err(Cancelled)` once cancelled.
    pub fn check(&self) -> Result<(), crate::CoreError> {
        if self.is_cancelled() {
            Err(crate::CoreError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Two parameter sets are equal whatever their flags: a flag is not a parameter.
impl PartialEq for Cancel {
    fn eq(&self, _other: &Cancel) -> bool {
        true
    }
}
