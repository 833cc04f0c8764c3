//! A (distance, node) pair with the total order every heap and sort in geodex uses.

use std::cmp::Ordering;

/// A candidate: a node and its distance to the query. Ordered by distance (IEEE total order),
/// then by node id, so ties break the same way on every run and thread count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Neighbor {
    /// Dissimilarity to the query (smaller is closer).
    pub distance: f32,
    /// Dense node id.
    pub id: u32,
}

impl Neighbor {
    /// A candidate.
    #[inline]
    pub fn new(id: u32, distance: f32) -> Self {
        Neighbor { distance, id }
    }
}

impl Eq for Neighbor {}

impl PartialOrd for Neighbor {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Neighbor {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.id.cmp(&other.id))
    }
}
