//! Identifier newtypes: the graph's dense ids and the caller's keys never mix.

/// Dense internal id of a vector: its position in every per-node array (vectors, levels, links).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// The caller's id for a vector. By default the vector's position in the data it was built
/// from, so ids in output files index the input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(pub u64);

impl NodeId {
    /// The id as an array index.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
