//! The element types vectors are stored as, and the one runtime→compile-time dispatch.

use crate::kernel::{
    Avx2, Avx512, Cosine, Distance, InnerProduct, IsaKernels, Poincare, Portable, SquaredL2,
};
use crate::{Isa, Metric};

/// Which element type a vector set holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementKind {
    /// 32-bit IEEE floats.
    F32,
    /// Unsigned bytes (SIFT-style `.bvecs`).
    U8,
}

impl ElementKind {
    /// Short name (`f32`, `u8`).
    pub fn name(self) -> &'static str {
        match self {
            ElementKind::F32 => "f32",
            ElementKind::U8 => "u8",
        }
    }

    /// Bytes per component.
    pub fn size(self) -> usize {
        match self {
            ElementKind::F32 => 4,
            ElementKind::U8 => 1,
        }
    }
}

/// Something that receives a concrete [`Distance`] type; the way to run a generic function
/// with a kernel chosen at run time (closures cannot be generic).
pub trait KernelVisitor<T> {
    /// What the visit returns.
    type Output;
    /// Called once with the chosen kernel.
    fn visit<D: Distance<T>>(self, distance: D) -> Self::Output;
}

/// A vector component type geodex stores and searches natively.
pub trait Element: bytemuck::Pod + Send + Sync + std::fmt::Debug + PartialEq + 'static {
    /// The runtime tag of this type.
    const KIND: ElementKind;

    /// The value as `f32` (exact for `u8`).
    fn to_f32(self) -> f32;

    /// Whether `metric` has a native kernel for this element type.
    fn supports(metric: Metric) -> bool;

    /// Calls `visitor` with the kernel for `metric` on `isa`, or returns `None` if this element
    /// type has no kernel for `metric` (check [`Element::supports`] first). An `isa` the CPU
    /// lacks falls back to [`Isa::Portable`], so this is safe to call with any value.
    fn dispatch<V: KernelVisitor<Self>>(metric: Metric, isa: Isa, visitor: V) -> Option<V::Output>;
}

fn visit_f32<I: IsaKernels, V: KernelVisitor<f32>>(metric: Metric, isa: I, v: V) -> V::Output {
    match metric {
        Metric::L2 => v.visit(SquaredL2(isa)),
        Metric::InnerProduct => v.visit(InnerProduct(isa)),
        Metric::Cosine => v.visit(Cosine(isa)),
        Metric::Poincare => v.visit(Poincare(isa)),
    }
}

fn visit_u8<I: IsaKernels, V: KernelVisitor<u8>>(metric: Metric, isa: I, v: V) -> Option<V::Output> {
    match metric {
        Metric::L2 => Some(v.visit(SquaredL2(isa))),
        Metric::InnerProduct => Some(v.visit(InnerProduct(isa))),
        Metric::Cosine | Metric::Poincare => None,
    }
}

impl Element for f32 {
    const KIND: ElementKind = ElementKind::F32;

    fn to_f32(self) -> f32 {
        self
    }

    fn supports(_metric: Metric) -> bool {
        true
    }

    fn dispatch<V: KernelVisitor<f32>>(metric: Metric, isa: Isa, visitor: V) -> Option<V::Output> {
        Some(match isa {
            Isa::Avx512 if Avx512::new().is_some() => visit_f32(metric, Avx512::new()?, visitor),
            Isa::Avx2 | Isa::Avx512 if Avx2::new().is_some() => visit_f32(metric, Avx2::new()?, visitor),
            _ => visit_f32(metric, Portable, visitor),
        })
    }
}

impl Element for u8 {
    const KIND: ElementKind = ElementKind::U8;

    fn to_f32(self) -> f32 {
        self as f32
    }

    /// Bytes have no unit sphere or unit ball: cosine and Poincaré need `f32` storage.
    fn supports(metric: Metric) -> bool {
        matches!(metric, Metric::L2 | Metric::InnerProduct)
    }

    fn dispatch<V: KernelVisitor<u8>>(metric: Metric, isa: Isa, visitor: V) -> Option<V::Output> {
        match isa {
            Isa::Avx512 if Avx512::new().is_some() => visit_u8(metric, Avx512::new()?, visitor),
            Isa::Avx2 | Isa::Avx512 if Avx2::new().is_some() => visit_u8(metric, Avx2::new()?, visitor),
            _ => visit_u8(metric, Portable, visitor),
        }
    }
}
