//! Distance kernels for geodex.
//!
//! Every distance here is a *dissimilarity*: smaller means closer, so one search loop serves
//! all metrics (see [`Metric`] for what each one returns).
//!
//! Three layers, each checked against the one before it:
//! - [`reference`](mod@reference): obviously-correct kernels accumulating in `f64`/`u64`; the ground truth of
//!   the property tests, never used on a hot path.
//! - [`portable`]: plain Rust with several independent accumulators so the compiler can
//!   vectorise it on any target; the fallback when no SIMD path applies.
//! - x86-64 SIMD (AVX2+FMA, AVX-512F), chosen once at run time by [`Isa::detect`].
//!
//! The hot loops of `geodex-core` are generic over a [`Distance`] implementation, which is a
//! zero-sized type; [`Element::dispatch`] turns a runtime ([`Metric`], [`Isa`]) pair into a
//! monomorphised call, so no per-distance branch or indirect call remains in a search.
#![deny(missing_docs)]

mod element;
mod kernel;
mod metric;
pub mod portable;
pub mod reference;
mod x86;

pub use element::{Element, ElementKind, KernelVisitor};

/// Hints the CPU to start fetching `data` (its first 256 bytes) into cache, so that a distance
/// computed on it a little later does not wait on memory. A no-op off x86-64.
#[inline(always)]
pub fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    x86::prefetch(data);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}
pub use kernel::{
    Avx2, Avx512, Cosine, Distance, InnerProduct, Isa, IsaKernels, Poincare, Portable, SquaredL2,
};
pub use metric::{Metric, MetricParseError};
