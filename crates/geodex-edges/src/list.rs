//! What a list-aware scorer ([`crate::gnn`], [`crate::ode`]) sees of the candidate list: the
//! links kept before the judged candidate, each with its geometry and the state it was judged
//! with, and the small linear algebra both networks share.

use geodex_core::edges::{EdgeFeatures, KeptLink};

/// Inputs of a message besides the sender's state: g_cr = (ln e(c,r)/e(b,c), ln e(b,r)/e(b,c)).
pub(crate) const GEOMETRY: usize = 2;
/// Bound of the geometry's log-ratios (as the features').
const LOG_CLAMP: f64 = 8.0;

/// The links kept before a judged candidate, in keep order.
pub(crate) trait Senders {
    /// How many.
    fn count(&self) -> usize;
    /// The k-th kept link's distances.
    fn link(&self, k: usize) -> KeptLink;
    /// The state the k-th kept link was judged with.
    fn state(&self, k: usize) -> &[f64];
}

/// Kept links as the build hands them over ([`geodex_core::EdgeScorer::score_in_list`]): their
/// states back to back, `width` numbers each.
pub(crate) struct BuildSenders<'a> {
    pub links: &'a [KeptLink],
    pub states: &'a [f64],
    pub width: usize,
}

impl Senders for BuildSenders<'_> {
    fn count(&self) -> usize {
        self.links.len()
    }
    fn link(&self, k: usize) -> KeptLink {
        self.links[k]
    }
    fn state(&self, k: usize) -> &[f64] {
        &self.states[k * self.width..][..self.width]
    }
}

/// Kept links as a training pass holds them: (judged index, link), the judged candidates'
/// states back to back, `width` numbers each.
pub(crate) struct PassSenders<'a> {
    pub links: &'a [(usize, KeptLink)],
    pub states: &'a [f64],
    pub width: usize,
}

impl Senders for PassSenders<'_> {
    fn count(&self) -> usize {
        self.links.len()
    }
    fn link(&self, k: usize) -> KeptLink {
        self.links[k].1
    }
    fn state(&self, k: usize) -> &[f64] {
        &self.states[self.links[k].0 * self.width..][..self.width]
    }
}

/// One judged candidate of a list, as a backward pass needs it.
pub(crate) struct Judged<'a> {
    /// Its features.
    pub x: &'a EdgeFeatures,
    /// e(b, c).
    pub e_bc: f32,
    /// The links kept before it: (index of the kept candidate among the judged, link).
    pub kept: &'a [(usize, KeptLink)],
}

/// g_cr of a kept link seen from a candidate at e(b, c) = `e_bc`.
pub(crate) fn geometry(e_bc: f32, link: &KeptLink) -> [f64; GEOMETRY] {
    let ratio = |a: f32| {
        let (a, b) = (f64::from(a).max(1e-30), f64::from(e_bc).max(1e-30));
        (a / b).ln().clamp(-LOG_CLAMP, LOG_CLAMP)
    };
    [ratio(link.e_cr), ratio(link.e_br)]
}

/// y = M·x + bias for a row-major `y.len()` × `x.len()` matrix, written into `y`.
pub(crate) fn affine(m: &[f64], x: &[f64], bias: Option<&[f64]>, y: &mut [f64]) {
    let cols = x.len();
    for (i, yi) in y.iter_mut().enumerate() {
        let row = &m[i * cols..][..cols];
        *yi = bias.map_or(0.0, |b| b[i]) + row.iter().zip(x).map(|(w, v)| w * v).sum::<f64>();
    }
}

/// y += Mᵀ·v for a row-major `v.len()` × `y.len()` matrix.
pub(crate) fn add_transposed(m: &[f64], v: &[f64], y: &mut [f64]) {
    let cols = y.len();
    for (row, vi) in m.chunks_exact(cols).zip(v) {
        y.iter_mut().zip(row).for_each(|(yj, w)| *yj += w * vi);
    }
}

/// M += u·vᵀ for a row-major `u.len()` × `v.len()` matrix.
pub(crate) fn add_outer(m: &mut [f64], u: &[f64], v: &[f64]) {
    for (row, ui) in m.chunks_exact_mut(v.len()).zip(u) {
        row.iter_mut().zip(v).for_each(|(w, vj)| *w += ui * vj);
    }
}
