//! A hierarchy given as its transitive closure: the pairs `child → ancestor`, the nodes, and the
//! graph the closure is the closure of (its transitive reduction, the Hasse diagram).

use std::collections::{HashMap, VecDeque};
use std::io::BufRead;

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::EmbedError;

/// A partial order over named nodes, stored as its transitive closure.
///
/// Invariants: node ids are `0..len()`, in the sorted order of their names (so the same closure
/// gives the same ids whatever the order of its lines); `ancestors[u]` is sorted and free of
/// duplicates and of `u` itself; `pairs` lists every `(child, ancestor)` once, sorted.
#[derive(Clone, Debug)]
pub struct Hierarchy {
    names: Vec<String>,
    ancestors: Vec<Vec<u32>>,
    descendants: Vec<Vec<u32>>,
    pairs: Vec<(u32, u32)>,
}

impl Hierarchy {
    /// Reads a closure as TSV lines `child<TAB>ancestor` (further columns, such as a weight, are
    /// ignored; blank lines and lines starting with `#` are skipped). A line with one column, a
    /// self-loop, or an empty file is an error naming the line.
    pub fn read_tsv(reader: impl BufRead) -> Result<Hierarchy, EmbedError> {
        let mut named = Vec::new();
        for (i, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| EmbedError::Io(e.to_string()))?;
            let trimmed = line.trim_end_matches('\r');
            if trimmed.trim().is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut fields = trimmed.split('\t');
            let (child, ancestor) = match (fields.next(), fields.next()) {
                (Some(c), Some(a)) if !c.is_empty() && !a.is_empty() => (c, a),
                _ => {
                    return Err(EmbedError::Malformed {
                        line: i + 1,
                        reason: "expected child<TAB>ancestor".into(),
                    })
                }
            };
            if child == ancestor {
                return Err(EmbedError::Malformed {
                    line: i + 1,
                    reason: format!("'{child}' is its own ancestor"),
                });
            }
            named.push((child.to_string(), ancestor.to_string()));
        }
        Hierarchy::from_named_pairs(&named)
    }

    /// The hierarchy of `(child, ancestor)` name pairs, which must already be transitively
    /// closed (a missing closure pair is not added: the pairs are the training data).
    pub fn from_named_pairs(named: &[(String, String)]) -> Result<Hierarchy, EmbedError> {
        if named.is_empty() {
            return Err(EmbedError::Empty);
        }
        let mut names: Vec<String> = named.iter().flat_map(|(c, a)| [c.clone(), a.clone()]).collect();
        names.sort_unstable();
        names.dedup();
        let id: HashMap<&str, u32> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i as u32))
            .collect();
        let pairs: Vec<(u32, u32)> = named
            .iter()
            .map(|(c, a)| (id[c.as_str()], id[a.as_str()]))
            .collect();
        Ok(Hierarchy::from_pairs(names, pairs))
    }

    /// The hierarchy over `names` with `(child, ancestor)` id pairs (ids index `names`).
    pub fn from_pairs(names: Vec<String>, mut pairs: Vec<(u32, u32)>) -> Hierarchy {
        pairs.sort_unstable();
        pairs.dedup();
        let n = names.len();
        let mut ancestors = vec![Vec::new(); n];
        let mut descendants = vec![Vec::new(); n];
        for &(c, a) in &pairs {
            ancestors[c as usize].push(a);
            descendants[a as usize].push(c);
        }
        for list in &mut descendants {
            list.sort_unstable();
        }
        Hierarchy {
            names,
            ancestors,
            descendants,
            pairs,
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no nodes (never true for a hierarchy that was read successfully).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Node names, indexed by id.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Every closure pair `(child, ancestor)`, sorted.
    pub fn pairs(&self) -> &[(u32, u32)] {
        &self.pairs
    }

    /// The ancestors of `node`, sorted.
    pub fn ancestors(&self, node: u32) -> &[u32] {
        &self.ancestors[node as usize]
    }

    /// The descendants of `node`, sorted.
    pub fn descendants(&self, node: u32) -> &[u32] {
        &self.descendants[node as usize]
    }

    /// Whether `ancestor` is an ancestor of `node` in the closure, i.e. `(node, ancestor)` is a
    /// pair. Reads only `node`'s own list (the negative sampler's test, one node against many).
    pub fn has_ancestor(&self, node: u32, ancestor: u32) -> bool {
        self.ancestors(node).binary_search(&ancestor).is_ok()
    }

    /// Whether `a` and `b` are comparable: one is an ancestor of the other. Looks only at
    /// `a`'s own lists, so a caller testing many `b` against one `a` stays in cache.
    pub fn related(&self, a: u32, b: u32) -> bool {
        self.ancestors(a).binary_search(&b).is_ok() || self.descendants(a).binary_search(&b).is_ok()
    }

    /// Splits the closure for validation: a seeded `fraction` of all pairs is held out, drawn
    /// only among pairs outside the transitive reduction, so every node keeps its parents and
    /// the held-out pairs stay implied by the rest (Nickel & Kiela 2017, §4.2). Returns the
    /// training hierarchy (same names and ids) and the held-out `(child, ancestor)` pairs,
    /// sorted. An error if `fraction` is not in (0, 1) or too few pairs lie outside the
    /// reduction.
    pub fn split_validation(
        &self,
        fraction: f64,
        seed: u64,
    ) -> Result<(Hierarchy, Vec<(u32, u32)>), EmbedError> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(EmbedError::InvalidParameter(format!(
                "the validation fraction must be in (0, 1), got {fraction}"
            )));
        }
        let parents = self.parents();
        let mut candidates: Vec<usize> = (0..self.pairs.len())
            .filter(|&i| {
                let (c, a) = self.pairs[i];
                parents[c as usize].binary_search(&a).is_err()
            })
            .collect();
        let want = (fraction * self.pairs.len() as f64).round() as usize;
        if want == 0 || want > candidates.len() {
            return Err(EmbedError::InvalidParameter(format!(
                "cannot hold out {want} of {} pairs: {} lie outside the transitive reduction",
                self.pairs.len(),
                candidates.len()
            )));
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x0005_911E);
        for i in 0..want {
            let j = i + (rng.next_u64() % (candidates.len() - i) as u64) as usize;
            candidates.swap(i, j);
        }
        let mut held = vec![false; self.pairs.len()];
        candidates[..want].iter().for_each(|&i| held[i] = true);
        let (mut kept, mut out) = (Vec::new(), Vec::new());
        for (i, &pair) in self.pairs.iter().enumerate() {
            if held[i] {
                out.push(pair);
            } else {
                kept.push(pair);
            }
        }
        Ok((Hierarchy::from_pairs(self.names.clone(), kept), out))
    }

    /// The direct parents of every node: the ancestors `p` of `u` with no other ancestor of `u`
    /// below `p` (the transitive reduction of the closure). Sorted per node.
    pub fn parents(&self) -> Vec<Vec<u32>> {
        (0..self.len() as u32)
            .map(|u| {
                let anc = self.ancestors(u);
                anc.iter()
                    .copied()
                    .filter(|&p| {
                        !anc.iter()
                            .any(|&b| b != p && self.ancestors(b).binary_search(&p).is_ok())
                    })
                    .collect()
            })
            .collect()
    }

    /// The undirected Hasse diagram (reduction edges in both directions), sorted per node: the
    /// graph whose hop distances the distortion measures compare embedding distances to.
    pub fn hasse_neighbours(&self) -> Vec<Vec<u32>> {
        let mut adj = vec![Vec::new(); self.len()];
        for (u, ps) in self.parents().into_iter().enumerate() {
            for p in ps {
                adj[u].push(p);
                adj[p as usize].push(u as u32);
            }
        }
        for list in &mut adj {
            list.sort_unstable();
            list.dedup();
        }
        adj
    }

    /// Depth of every node: the number of ancestors (its level in a tree; for a node with
    /// several parents, the size of its up-set).
    pub fn depths(&self) -> Vec<usize> {
        self.ancestors.iter().map(Vec::len).collect()
    }

    /// A spanning tree of the hierarchy, as a parent per node and the list of roots (nodes
    /// without ancestors): every other node's tree parent is its deepest direct parent (ties:
    /// the smaller id). For a closure of a tree this is the tree itself.
    pub fn spanning_tree(&self) -> (Vec<Option<u32>>, Vec<u32>) {
        let depth = self.depths();
        let parent: Vec<Option<u32>> = self
            .parents()
            .into_iter()
            .map(|ps| {
                ps.into_iter()
                    .max_by_key(|&p| (depth[p as usize], std::cmp::Reverse(p)))
            })
            .collect();
        let roots = (0..self.len() as u32)
            .filter(|&u| parent[u as usize].is_none())
            .collect();
        (parent, roots)
    }
}

/// Hop distances from `source` over `adjacency` by breadth-first search; `u32::MAX` where
/// unreachable.
pub fn hop_distances(adjacency: &[Vec<u32>], source: u32) -> Vec<u32> {
    let mut dist = vec![u32::MAX; adjacency.len()];
    let mut queue = VecDeque::from([source]);
    dist[source as usize] = 0;
    while let Some(u) = queue.pop_front() {
        let next = dist[u as usize] + 1;
        for &v in &adjacency[u as usize] {
            if dist[v as usize] == u32::MAX {
                dist[v as usize] = next;
                queue.push_back(v);
            }
        }
    }
    dist
}

/// The closure of a tree given by `parent` links (a root has `None`): every `(node, ancestor)`.
pub fn tree_closure(parent: &[Option<u32>]) -> Vec<(u32, u32)> {
    let mut pairs = Vec::new();
    for u in 0..parent.len() {
        let mut p = parent[u];
        while let Some(a) = p {
            pairs.push((u as u32, a));
            p = parent[a as usize];
        }
    }
    pairs
}
