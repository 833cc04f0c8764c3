//! Product quantisation (Jégou, Douze & Schmid, "Product quantization for nearest neighbor
//! search", TPAMI 2011): the dimensions are cut into `m` contiguous sub-spaces, each with its own
//! k-means codebook of 2^`bits` centroids (`bits` 8: PQ8, 4: PQ4); a vector is stored as the
//! index of its nearest centroid in each sub-space.
//!
//! Asymmetric distance computation (ADC, §3.1 of the paper): for a query, a table holds the
//! squared distance from each query sub-vector to each centroid; the distance to a code is the
//! sum of `m` table entries, which equals ‖q − reconstruction‖² exactly (up to rounding).

use rayon::prelude::*;

use crate::kmeans::{self, squared_l2, Codebook, KMeansParams};
use crate::Similarity;
use crate::{check_rows, QuantError};

/// A trained product quantiser.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductQuantizer {
    dim: usize,
    bits: u32,
    books: Vec<Codebook>,
    /// The centroids again, component-major within each sub-space: sub-space j's component d
    /// of centroid c at `(j · dsub + d) · ksub + c`, so that a query's table is computed eight
    /// centroids per instruction without shuffles ([`ProductQuantizer::fill_rows`]). Made from
    /// the codebooks when the quantiser is, never stored; the codebooks' size again (128 KB for
    /// SIFT PQ8 m 32), counted by [`ProductQuantizer::derived_bytes`].
    columns: Vec<f32>,
}

impl ProductQuantizer {
    /// The quantiser of these codebooks (each `dim / books.len()` components).
    fn with_books(dim: usize, bits: u32, books: Vec<Codebook>) -> Self {
        let mut columns = Vec::with_capacity(books.iter().map(|b| b.centroids.len()).sum());
        for book in &books {
            columns.extend((0..book.dim).flat_map(|d| book.centroids.iter().skip(d).step_by(book.dim)));
        }
        ProductQuantizer {
            dim,
            bits,
            books,
            columns,
        }
    }

    /// Trains `m` codebooks of 2^`bits` centroids (`bits` ∈ {4, 8}) on the rows of `data`;
    /// `dim` must be a multiple of `m`. Sub-space j's k-means is seeded with `seed + j`.
    pub fn train(data: &[f32], dim: usize, m: usize, bits: u32, seed: u64) -> Result<Self, QuantError> {
        let n = check_rows(data, dim)?;
        if !(bits == 4 || bits == 8) {
            return Err(QuantError::InvalidParameter(format!(
                "{bits} bits per code (expected 4 or 8)"
            )));
        }
        if m == 0 || !dim.is_multiple_of(m) {
            return Err(QuantError::InvalidParameter(format!(
                "m = {m} sub-spaces must divide the dimension {dim}"
            )));
        }
        let dsub = dim / m;
        let ksub = 1usize << bits;
        if n < ksub {
            return Err(QuantError::TooFewVectors {
                vectors: n,
                centroids: ksub,
            });
        }
        // Sub-spaces are independent (each seeded with seed + j), so they train in parallel.
        let books = (0..m)
            .into_par_iter()
            .map(|j| {
                let params = KMeansParams::new(ksub, seed.wrapping_add(j as u64));
                kmeans::train(&sub_space(data, dim, j, dsub), dsub, &params)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ProductQuantizer::with_books(dim, bits, books))
    }

    /// Dimension of the vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of sub-spaces.
    pub fn m(&self) -> usize {
        self.books.len()
    }

    /// Bits per sub-space code (4 or 8).
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Bytes of what the quantiser makes in memory from its codebooks to search faster and
    /// never stores: the component-major copy of the centroids (as many bytes as the codebooks).
    pub fn derived_bytes(&self) -> usize {
        std::mem::size_of_val(self.columns.as_slice())
    }

    /// Centroids per sub-space (2^bits).
    pub fn ksub(&self) -> usize {
        1 << self.bits
    }

    /// Dimensions per sub-space.
    pub fn dsub(&self) -> usize {
        self.dim / self.m()
    }

    /// The codebook of sub-space `j`.
    pub fn codebook(&self, j: usize) -> &Codebook {
        &self.books[j]
    }

    /// Encodes `v` as one centroid index per sub-space (one byte each, also for PQ4; see
    /// [`crate::fastscan`] for the packed PQ4 layout).
    pub fn encode(&self, v: &[f32], code: &mut [u8]) {
        let dsub = self.dsub();
        for (j, book) in self.books.iter().enumerate() {
            code[j] = book.nearest(&v[j * dsub..(j + 1) * dsub]).0 as u8;
        }
    }

    /// Encodes every row of `data`, `m` bytes per row — one blocked nearest-centroid pass per
    /// sub-space ([`Codebook::nearest_all`]), the same codes as [`ProductQuantizer::encode`].
    pub fn encode_all(&self, data: &[f32]) -> Vec<u8> {
        let (m, dsub) = (self.m(), self.dsub());
        let mut codes = vec![0u8; data.len() / self.dim * m];
        for (j, book) in self.books.iter().enumerate() {
            let nearest = book.nearest_all(&sub_space(data, self.dim, j, dsub));
            for (code, c) in codes.chunks_exact_mut(m).zip(nearest) {
                code[j] = c as u8;
            }
        }
        codes
    }

    /// The reconstruction of `code`: the concatenated centroids.
    pub fn decode(&self, code: &[u8], out: &mut [f32]) {
        let dsub = self.dsub();
        for (j, book) in self.books.iter().enumerate() {
            out[j * dsub..(j + 1) * dsub].copy_from_slice(book.centroid(code[j] as usize));
        }
    }

    /// The ADC table of `query`: entry `j · ksub + c` is ‖q_j − centroid_j,c‖².
    pub fn distance_table(&self, query: &[f32]) -> Vec<f32> {
        let mut table = Vec::with_capacity(self.m() * self.ksub());
        self.fill_table(query, Similarity::SquaredL2, &mut table);
        table
    }

    /// Fills `out` (cleared first) with the ADC table of `query` for `similarity`: entry
    /// `j · ksub + c` is ‖q_j − centroid_j,c‖² ([`Similarity::SquaredL2`], the same values as
    /// [`ProductQuantizer::distance_table`]) or −⟨q_j, centroid_j,c⟩
    /// ([`Similarity::NegativeDot`]); either way the sum over j is the distance to the
    /// reconstruction.
    pub fn fill_table(&self, query: &[f32], similarity: Similarity, out: &mut Vec<f32>) {
        #[cfg(target_arch = "x86_64")]
        if geodex_distance::Isa::detect() != geodex_distance::Isa::Portable {
            // SAFETY: an instruction set above the portable one is detected only on a CPU
            // with AVX2 and FMA.
            unsafe { self.fill_table_avx2(query, similarity, out) };
            return;
        }
        self.fill_table_with(query, similarity, out);
    }

    /// [`ProductQuantizer::fill_table`] compiled for AVX2: the same operations in the same
    /// order (no contraction into FMA), so the same table, computed eight entries wide.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fill_table_avx2(&self, query: &[f32], similarity: Similarity, out: &mut Vec<f32>) {
        self.fill_table_with(query, similarity, out);
    }

    /// The body of [`ProductQuantizer::fill_table`]. Once per query of every PQ search: the
    /// rows are written in place (no growth checks) and the kernel is inlined — called
    /// through a function, 1,024 two-component distances (SIFT, m = 64) took 3 µs, a tenth of
    /// a fast-scan query.
    #[inline(always)]
    fn fill_table_with(&self, query: &[f32], similarity: Similarity, out: &mut Vec<f32>) {
        let (dsub, ksub) = (self.dsub(), self.ksub());
        out.clear();
        out.resize(self.m() * ksub, 0.0);
        match dsub {
            2 => return self.fill_rows::<2>(query, similarity, out),
            4 => return self.fill_rows::<4>(query, similarity, out),
            8 => return self.fill_rows::<8>(query, similarity, out),
            _ => {}
        }
        for ((book, row), q) in self
            .books
            .iter()
            .zip(out.chunks_exact_mut(ksub))
            .zip(query.chunks_exact(dsub))
        {
            // Plain loops: an iterator adapter's `fold` is compiled apart from (and without the
            // target features of) the function that calls it.
            for (t, c) in row.iter_mut().zip(book.centroids.chunks_exact(dsub)) {
                *t = match similarity {
                    Similarity::SquaredL2 => squared_l2(q, c),
                    Similarity::NegativeDot => -crate::kmeans::dot(q, c),
                };
            }
        }
    }

    /// [`ProductQuantizer::fill_table_with`] for sub-spaces of `D` ≤ 8 components, from the
    /// component-major copy of the centroids: the vectoriser computes eight centroids per
    /// instruction with plain loads (over the centroid-major layout it needs a shuffle per
    /// component: SIFT's PQ8 m 32 table, 8,192 four-component distances, made the walk on its
    /// codes 29 % slower; BENCHMARKS.md, 2026-12-06). The terms are added in order from zero, as
    /// [`squared_l2`] and [`crate::kmeans::dot`] add vectors shorter than their eight lanes, so
    /// the table is the same.
    #[inline(always)]
    fn fill_rows<const D: usize>(&self, query: &[f32], similarity: Similarity, out: &mut [f32]) {
        let ksub = self.ksub();
        for ((columns, row), q) in self
            .columns
            .chunks_exact(D * ksub)
            .zip(out.chunks_exact_mut(ksub))
            .zip(query.chunks_exact(D))
        {
            let q: &[f32; D] = q.try_into().expect("D components");
            let columns: [&[f32]; D] = std::array::from_fn(|d| &columns[d * ksub..][..ksub]);
            for (c, t) in row.iter_mut().enumerate() {
                let mut sum = 0f32;
                for d in 0..D {
                    let x = columns[d][c];
                    sum += match similarity {
                        Similarity::SquaredL2 => (q[d] - x) * (q[d] - x),
                        Similarity::NegativeDot => q[d] * x,
                    };
                }
                *t = match similarity {
                    Similarity::SquaredL2 => sum,
                    Similarity::NegativeDot => -sum,
                };
            }
        }
    }

    /// A quantiser from stored centroids: `m` sub-spaces of 2^`bits` centroids of `dim / m`
    /// components, sub-space by sub-space (the layout of [`crate::codec::Codec::parameters`]).
    /// The caller checks the length; the training error is not stored, so `mse` is NaN.
    pub(crate) fn from_centroids(dim: usize, m: usize, bits: u32, centroids: &[f32]) -> Self {
        let dsub = dim / m;
        let per_book = (1usize << bits) * dsub;
        let books = centroids
            .chunks_exact(per_book)
            .map(|c| Codebook {
                dim: dsub,
                centroids: c.to_vec(),
                mse: f64::NAN,
            })
            .collect();
        ProductQuantizer::with_books(dim, bits, books)
    }

    /// The asymmetric distance of one code from its query's table: Σ_j table[j][code_j].
    #[inline]
    pub fn table_distance(&self, table: &[f32], code: &[u8]) -> f32 {
        let ksub = self.ksub();
        code.iter()
            .enumerate()
            .map(|(j, &c)| table[j * ksub + c as usize])
            .sum()
    }

    /// [`ProductQuantizer::table_distance`] of every code in `codes` (`m` bytes each) into `out`:
    /// the PQ8 table scan that fast-scan is measured against.
    pub fn scan(&self, table: &[f32], codes: &[u8], out: &mut Vec<f32>) {
        out.clear();
        out.extend(
            codes
                .chunks_exact(self.m())
                .map(|c| self.table_distance(table, c)),
        );
    }

    /// Mean squared reconstruction error over the rows of `data`.
    pub fn distortion(&self, data: &[f32]) -> f64 {
        let mut code = vec![0u8; self.m()];
        let mut rec = vec![0f32; self.dim];
        let rows = data.len() / self.dim;
        let total: f64 = data
            .chunks_exact(self.dim)
            .map(|v| {
                self.encode(v, &mut code);
                self.decode(&code, &mut rec);
                squared_l2(v, &rec) as f64
            })
            .sum();
        total / rows.max(1) as f64
    }
}

/// Components `j·dsub .. (j + 1)·dsub` of every row of `data` (`dim` each), row after row.
fn sub_space(data: &[f32], dim: usize, j: usize, dsub: usize) -> Vec<f32> {
    data.chunks_exact(dim)
        .flat_map(|v| v[j * dsub..(j + 1) * dsub].iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table from the component-major centroids is the one the centroid-major kernels give,
    /// bit for bit: every entry equals [`squared_l2`] or −[`crate::kmeans::dot`] of the query's
    /// sub-vector and the centroid, for sub-spaces of 2, 4 and 8 components.
    #[test]
    fn component_major_tables_equal_the_centroid_major_distances_exactly() {
        let dim = 32;
        let data = geodex_testkit::clustered(600, dim, 8, 1.0, 4);
        let query = &data[590 * dim..591 * dim];
        for m in [16, 8, 4] {
            let pq = ProductQuantizer::train(&data[..580 * dim], dim, m, 4, 3).unwrap();
            let dsub = dim / m;
            for similarity in [Similarity::SquaredL2, Similarity::NegativeDot] {
                let mut table = Vec::new();
                pq.fill_table(query, similarity, &mut table);
                for (i, &entry) in table.iter().enumerate() {
                    let (j, c) = (i / pq.ksub(), i % pq.ksub());
                    let centroid = &pq.books[j].centroids[c * dsub..][..dsub];
                    let q = &query[j * dsub..][..dsub];
                    let expected = match similarity {
                        Similarity::SquaredL2 => squared_l2(q, centroid),
                        Similarity::NegativeDot => -crate::kmeans::dot(q, centroid),
                    };
                    assert_eq!(
                        entry.to_bits(),
                        expected.to_bits(),
                        "m {m} {similarity:?} entry {i}"
                    );
                }
            }
        }
    }
}
