//! Instruction-set selection and the zero-sized distance types the search loop is generic over.

use std::sync::OnceLock;

use crate::portable;

/// An instruction set a kernel can run on. [`Isa::detect`] picks the best one once per process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain Rust ([`crate::portable`]); runs everywhere.
    Portable,
    /// x86-64 AVX2 with FMA.
    Avx2,
    /// x86-64 AVX-512F (float kernels; byte kernels use AVX2, which every AVX-512 CPU has).
    Avx512,
}

impl Isa {
    /// The best instruction set this CPU supports, detected once and cached.
    ///
    /// The environment variable `GEODEX_ISA` (`portable`, `avx2`, `avx512`) can lower the choice,
    /// for benchmarks and tests of the fallback paths; it never raises it above what the CPU has.
    pub fn detect() -> Isa {
        static DETECTED: OnceLock<Isa> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            let best = Isa::available().into_iter().last().unwrap_or(Isa::Portable);
            match std::env::var("GEODEX_ISA").ok().and_then(|s| Isa::from_name(&s)) {
                Some(wanted) if Isa::available().contains(&wanted) => wanted,
                _ => best,
            }
        })
    }

    /// Every instruction set this CPU can run, from slowest to fastest.
    pub fn available() -> Vec<Isa> {
        let mut out = vec![Isa::Portable];
        if Avx2::new().is_some() {
            out.push(Isa::Avx2);
        }
        if Avx512::new().is_some() {
            out.push(Isa::Avx512);
        }
        out
    }

    /// Short lower-case name (`portable`, `avx2`, `avx512`).
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The instruction set called `name`, if any.
    pub fn from_name(name: &str) -> Option<Isa> {
        [Isa::Portable, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .find(|i| i.name() == name)
    }
}

/// The four primitive reductions, implemented once per instruction set. Implementors are
/// zero-sized *tokens*: holding one proves the CPU supports its instructions.
pub trait IsaKernels: Copy + Send + Sync + 'static {
    /// ‖a − b‖² over the common prefix of `a` and `b`.
    fn squared_l2_f32(self, a: &[f32], b: &[f32]) -> f32;
    /// ⟨a, b⟩ over the common prefix of `a` and `b`.
    fn dot_f32(self, a: &[f32], b: &[f32]) -> f32;
    /// ‖a − b‖² for bytes, exact for dimensions ≤ 66 051.
    fn squared_l2_u8(self, a: &[u8], b: &[u8]) -> u32;
    /// ⟨a, b⟩ for bytes, exact for dimensions ≤ 66 051.
    fn dot_u8(self, a: &[u8], b: &[u8]) -> u32;
    /// [`IsaKernels::squared_l2_f32`] of `a` against four rows; equal bit for bit to four
    /// one-row calls. Kernels that stream the rows together overlap their memory fetches.
    #[inline]
    fn squared_l2_f32_x4(self, a: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
        rows.map(|b| self.squared_l2_f32(a, b))
    }
    /// [`IsaKernels::dot_f32`] of `a` against four rows; equal bit for bit to four one-row calls.
    #[inline]
    fn dot_f32_x4(self, a: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
        rows.map(|b| self.dot_f32(a, b))
    }
    /// [`IsaKernels::squared_l2_u8`] of `a` against four rows.
    #[inline]
    fn squared_l2_u8_x4(self, a: &[u8], rows: [&[u8]; 4]) -> [u32; 4] {
        rows.map(|b| self.squared_l2_u8(a, b))
    }
    /// [`IsaKernels::dot_u8`] of `a` against four rows.
    #[inline]
    fn dot_u8_x4(self, a: &[u8], rows: [&[u8]; 4]) -> [u32; 4] {
        rows.map(|b| self.dot_u8(a, b))
    }
}

/// Token for the portable kernels; always available.
#[derive(Clone, Copy, Debug, Default)]
pub struct Portable;

/// Token proving AVX2 and FMA are available. Only [`Avx2::new`] makes one.
#[derive(Clone, Copy, Debug)]
pub struct Avx2 {
    _proof: (),
}

/// Token proving AVX-512F, BW and VL, AVX2 and FMA are available (every AVX-512 CPU since
/// Skylake-SP; Xeon Phi, without BW, runs the AVX2 kernels). Only [`Avx512::new`] makes one.
#[derive(Clone, Copy, Debug)]
pub struct Avx512 {
    _proof: (),
}

impl Avx2 {
    /// The token, if this CPU has AVX2 and FMA.
    pub fn new() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Some(Avx2 { _proof: () });
        }
        None
    }
}

impl Avx512 {
    /// The token, if this CPU has AVX-512F, BW and VL (and AVX2 and FMA).
    pub fn new() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && Avx2::new().is_some()
        {
            return Some(Avx512 { _proof: () });
        }
        None
    }
}

impl IsaKernels for Portable {
    #[inline]
    fn squared_l2_f32(self, a: &[f32], b: &[f32]) -> f32 {
        portable::squared_l2_f32(a, b)
    }
    #[inline]
    fn dot_f32(self, a: &[f32], b: &[f32]) -> f32 {
        portable::dot_f32(a, b)
    }
    #[inline]
    fn squared_l2_u8(self, a: &[u8], b: &[u8]) -> u32 {
        portable::squared_l2_u8(a, b)
    }
    #[inline]
    fn dot_u8(self, a: &[u8], b: &[u8]) -> u32 {
        portable::dot_u8(a, b)
    }
}

/// Implements [`IsaKernels`] for a SIMD token by calling the `#[target_feature]` kernels of
/// `x86.rs`. Sound because a token can only be made by its `new`, which checks with
/// `is_x86_feature_detected!` every feature the kernels are compiled for.
#[cfg(target_arch = "x86_64")]
macro_rules! simd_kernels {
    ($token:ty, $l2_f32:ident, $dot_f32:ident, $l2_u8:ident, $dot_u8:ident, $l2_u8_x4:ident, $dot_u8_x4:ident $(, $l2_x4:ident, $dot_x4:ident)?) => {
        impl IsaKernels for $token {
            #[inline]
            fn squared_l2_f32(self, a: &[f32], b: &[f32]) -> f32 {
                // SAFETY: `self` is a token, which exists only if the CPU has the kernel's features.
                unsafe { crate::x86::$l2_f32(a, b) }
            }
            #[inline]
            fn dot_f32(self, a: &[f32], b: &[f32]) -> f32 {
                // SAFETY: as above.
                unsafe { crate::x86::$dot_f32(a, b) }
            }
            #[inline]
            fn squared_l2_u8(self, a: &[u8], b: &[u8]) -> u32 {
                // SAFETY: as above.
                unsafe { crate::x86::$l2_u8(a, b) }
            }
            #[inline]
            fn dot_u8(self, a: &[u8], b: &[u8]) -> u32 {
                // SAFETY: as above.
                unsafe { crate::x86::$dot_u8(a, b) }
            }
            #[inline]
            fn squared_l2_u8_x4(self, a: &[u8], rows: [&[u8]; 4]) -> [u32; 4] {
                // SAFETY: as above.
                unsafe { crate::x86::$l2_u8_x4(a, rows) }
            }
            #[inline]
            fn dot_u8_x4(self, a: &[u8], rows: [&[u8]; 4]) -> [u32; 4] {
                // SAFETY: as above.
                unsafe { crate::x86::$dot_u8_x4(a, rows) }
            }
            $(
            #[inline]
            fn squared_l2_f32_x4(self, a: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
                // SAFETY: as above.
                unsafe { crate::x86::$l2_x4(a, rows) }
            }
            #[inline]
            fn dot_f32_x4(self, a: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
                // SAFETY: as above.
                unsafe { crate::x86::$dot_x4(a, rows) }
            }
            )?
        }
    };
}

#[cfg(target_arch = "x86_64")]
simd_kernels!(
    Avx2,
    squared_l2_f32_avx2,
    dot_f32_avx2,
    squared_l2_u8_avx2,
    dot_u8_avx2,
    squared_l2_u8_avx2_x4,
    dot_u8_avx2_x4,
    squared_l2_f32_avx2_x4,
    dot_f32_avx2_x4
);

#[cfg(target_arch = "x86_64")]
simd_kernels!(
    Avx512,
    squared_l2_f32_avx512,
    dot_f32_avx512,
    squared_l2_u8_avx512,
    dot_u8_avx512,
    squared_l2_u8_avx512_x4,
    dot_u8_avx512_x4,
    squared_l2_f32_avx512_x4,
    dot_f32_avx512_x4
);

#[cfg(not(target_arch = "x86_64"))]
macro_rules! portable_fallback {
    ($token:ty) => {
        impl IsaKernels for $token {
            fn squared_l2_f32(self, a: &[f32], b: &[f32]) -> f32 {
                Portable.squared_l2_f32(a, b)
            }
            fn dot_f32(self, a: &[f32], b: &[f32]) -> f32 {
                Portable.dot_f32(a, b)
            }
            fn squared_l2_u8(self, a: &[u8], b: &[u8]) -> u32 {
                Portable.squared_l2_u8(a, b)
            }
            fn dot_u8(self, a: &[u8], b: &[u8]) -> u32 {
                Portable.dot_u8(a, b)
            }
        }
    };
}
#[cfg(not(target_arch = "x86_64"))]
portable_fallback!(Avx2);
#[cfg(not(target_arch = "x86_64"))]
portable_fallback!(Avx512);

/// A dissimilarity between two vectors of `T` (smaller is closer), as a zero-sized value the
/// search loop is monomorphised over.
pub trait Distance<T>: Copy + Send + Sync + 'static {
    /// The dissimilarity of `a` and `b`; both must have the index's dimension.
    fn distance(&self, a: &[T], b: &[T]) -> f32;

    /// The dissimilarities of `a` to four rows; equal bit for bit to four [`Distance::distance`]
    /// calls, but the float kernels stream the four rows together so their memory fetches
    /// overlap (the search loop's main cost on vectors that do not fit in cache).
    #[inline]
    fn distance4(&self, a: &[T], rows: [&[T]; 4]) -> [f32; 4] {
        rows.map(|b| self.distance(a, b))
    }
}

/// ‖a − b‖² ([`crate::Metric::L2`]) on the instruction set `I`.
#[derive(Clone, Copy, Debug)]
pub struct SquaredL2<I>(pub I);
/// −⟨a, b⟩ ([`crate::Metric::InnerProduct`]) on the instruction set `I`.
#[derive(Clone, Copy, Debug)]
pub struct InnerProduct<I>(pub I);
/// 1 − ⟨a, b⟩ on unit vectors ([`crate::Metric::Cosine`]) on the instruction set `I`.
#[derive(Clone, Copy, Debug)]
pub struct Cosine<I>(pub I);
/// Poincaré-ball distance ([`crate::Metric::Poincare`]) on the instruction set `I`.
#[derive(Clone, Copy, Debug)]
pub struct Poincare<I>(pub I);

impl<I: IsaKernels> Distance<f32> for SquaredL2<I> {
    #[inline]
    fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        self.0.squared_l2_f32(a, b)
    }
    #[inline]
    fn distance4(&self, a: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
        self.0.squared_l2_f32_x4(a, rows)
    }
}

impl<I: IsaKernels> Distance<u8> for SquaredL2<I> {
    /// Exact as an integer; as `f32` exact below 2²⁴ (all of SIFT's range: 128 · 255² < 2²⁴).
    #[inline]
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        self.0.squared_l2_u8(a, b) as f32
    }
    #[inline]
    fn distance4(&self, a: &[u8], rows: [&[u8]; 4]) -> [f32; 4] {
        self.0.squared_l2_u8_x4(a, rows).map(|d| d as f32)
    }
}

impl<I: IsaKernels> Distance<f32> for InnerProduct<I> {
    #[inline]
    fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        -self.0.dot_f32(a, b)
    }
    #[inline]
    fn distance4(&self, a: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
        self.0.dot_f32_x4(a, rows).map(|d| -d)
    }
}

impl<I: IsaKernels> Distance<u8> for InnerProduct<I> {
    #[inline]
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        -(self.0.dot_u8(a, b) as f32)
    }
    #[inline]
    fn distance4(&self, a: &[u8], rows: [&[u8]; 4]) -> [f32; 4] {
        self.0.dot_u8_x4(a, rows).map(|d| -(d as f32))
    }
}

impl<I: IsaKernels> Distance<f32> for Cosine<I> {
    #[inline]
    fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        1.0 - self.0.dot_f32(a, b)
    }
    #[inline]
    fn distance4(&self, a: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
        self.0.dot_f32_x4(a, rows).map(|d| 1.0 - d)
    }
}

impl<I: IsaKernels> Distance<f32> for Poincare<I> {
    /// The *rank key* δ(a, b) = ‖a−b‖² / ((1−‖a‖²)(1−‖b‖²)), not the distance itself: the
    /// Poincaré distance is d = arcosh(1 + 2δ) = 2·asinh(√δ) (Nickel & Kiela 2017, eq. 1), a
    /// strictly increasing function of δ ≥ 0, so every comparison the search and the
    /// neighbour-selection heuristic make (`d(x, y) < d(z, w)` for any four points) has the
    /// same outcome on δ as on d, and no arcosh runs per candidate.
    /// [`Metric::reported_distance`](crate::Metric::reported_distance) turns δ back into d for
    /// results. See [`crate::portable::poincare_ratio_f32`] for the precision argument.
    #[inline]
    fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        crate::portable::poincare_ratio_f32(a, b) as f32
    }
}
