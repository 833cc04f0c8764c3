//! Visited set cleared in O(1) by bumping an epoch (as hnswlib's `VisitedList` does), instead
//! of zeroing n flags before every query.

/// Marks which nodes a traversal has reached. A node is visited iff `marks[node] == epoch`.
#[derive(Clone, Debug, Default)]
pub struct VisitedSet {
    marks: Vec<u32>,
    epoch: u32,
}

impl VisitedSet {
    /// Forgets every mark and makes room for `n` nodes. Allocates only when `n` grows; zeroes
    /// the marks only when the 32-bit epoch wraps (once per ~4·10⁹ traversals).
    pub fn reset(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `node`; returns whether it was not marked before.
    #[inline]
    pub fn insert(&mut self, node: u32) -> bool {
        let slot = &mut self.marks[node as usize];
        let fresh = *slot != self.epoch;
        *slot = self.epoch;
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_forgets_and_wraparound_clears() {
        let mut v = VisitedSet::default();
        v.reset(4);
        assert!(v.insert(2));
        assert!(!v.insert(2));
        v.reset(4);
        assert!(v.insert(2));
        v.epoch = u32::MAX;
        v.marks[1] = 1;
        v.reset(4);
        assert_eq!(v.epoch, 1);
        assert!(v.insert(1), "stale mark equal to the new epoch survived the wrap");
    }
}
