//! NumPy `.npy` files (format versions 1.0, 2.0 and 3.0), 2-D and in C order.
//!
//! Written by hand rather than with a crate: the header is a short Python dict literal, and a
//! strict parser of our own can name the truncated row and promise never to panic on any input
//! (the fuzz target `npy` checks that), which we could not promise for a general reader.

use crate::vectors::check_dim;
use crate::{AnyVectors, IoError, Matrix};

const MAGIC: &[u8] = b"\x93NUMPY";

/// The element types accepted, from the header's `descr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// `<f4`
    F32,
    /// `<f8`, converted to f32 when read as vectors.
    F64,
    /// `|u1` (or `<u1`)
    U8,
    /// `<i4`
    I32,
    /// `<i8`
    I64,
    /// `<u8` (uint64), the type of keys.
    U64,
}

impl Dtype {
    fn from_descr(d: &str) -> Option<Dtype> {
        match d {
            "<f4" => Some(Dtype::F32),
            "<f8" => Some(Dtype::F64),
            "|u1" | "<u1" => Some(Dtype::U8),
            "<i4" => Some(Dtype::I32),
            "<i8" => Some(Dtype::I64),
            "<u8" => Some(Dtype::U64),
            _ => None,
        }
    }

    fn size(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
        }
    }
}

/// A parsed `.npy` array: its element type, shape and raw little-endian data.
#[derive(Clone, Debug)]
pub struct NpyArray {
    /// Element type.
    pub dtype: Dtype,
    /// Rows.
    pub rows: usize,
    /// Columns (the dimension).
    pub dim: usize,
    data: Vec<u8>,
}

fn npy_err(path: &str, reason: impl Into<String>) -> IoError {
    IoError::Npy {
        path: path.into(),
        reason: reason.into(),
    }
}

/// Parses a whole `.npy` file; `name` is used in errors.
pub fn parse(bytes: &[u8], name: &str) -> Result<NpyArray, IoError> {
    if bytes.is_empty() {
        return Err(IoError::Empty { path: name.into() });
    }
    if !bytes.starts_with(MAGIC) {
        return Err(npy_err(name, "missing \\x93NUMPY magic"));
    }
    let major = *bytes.get(6).ok_or_else(|| npy_err(name, "header cut short"))?;
    let (len_bytes, start) = match major {
        1 => (2, 10),
        2 | 3 => (4, 12),
        v => return Err(npy_err(name, format!("unsupported format version {v}"))),
    };
    let len_field = bytes
        .get(8..8 + len_bytes)
        .ok_or_else(|| npy_err(name, "header cut short"))?;
    let header_len = len_field
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | b as usize);
    let header = bytes
        .get(start..start + header_len)
        .ok_or_else(|| npy_err(name, "header cut short"))?;
    let header = std::str::from_utf8(header).map_err(|_| npy_err(name, "header is not text"))?;
    let (dtype, fortran, shape) = parse_header(header).map_err(|r| npy_err(name, r))?;
    if fortran {
        return Err(npy_err(
            name,
            "Fortran-order arrays are not supported; save with np.ascontiguousarray",
        ));
    }
    let (rows, dim) = match shape.as_slice() {
        [r, d] => (*r, check_dim(name, 0, i64::try_from(*d).unwrap_or(-1))?),
        _ => {
            return Err(npy_err(
                name,
                format!("expected a 2-D array, found shape {shape:?}"),
            ))
        }
    };
    if rows == 0 {
        return Err(IoError::Empty { path: name.into() });
    }
    let row_bytes = dim * dtype.size();
    let body = &bytes[start + header_len..];
    let needed = rows
        .checked_mul(row_bytes)
        .ok_or_else(|| npy_err(name, "shape too large"))?;
    if body.len() < needed {
        let row = body.len() / row_bytes;
        return Err(IoError::Truncated {
            path: name.into(),
            row,
            needed: row_bytes,
            available: body.len() - row * row_bytes,
        });
    }
    if body.len() > needed {
        return Err(npy_err(
            name,
            format!("{} bytes after the last row", body.len() - needed),
        ));
    }
    Ok(NpyArray {
        dtype,
        rows,
        dim,
        data: body.to_vec(),
    })
}

/// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header(h: &str) -> Result<(Dtype, bool, Vec<usize>), String> {
    let value_after = |key: &str| -> Result<&str, String> {
        let at = h
            .find(&format!("'{key}'"))
            .ok_or_else(|| format!("header has no '{key}'"))?;
        let rest = &h[at + key.len() + 2..];
        let colon = rest.find(':').ok_or_else(|| format!("no ':' after '{key}'"))?;
        Ok(rest[colon + 1..].trim_start())
    };
    let descr = value_after("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or("descr is not a string")?;
    let dtype = Dtype::from_descr(descr)
        .ok_or_else(|| format!("unsupported dtype '{descr}' (expected <f4, <f8, |u1, <i4, <i8 or <u8)"))?;
    let fortran = value_after("fortran_order")?;
    let fortran = if fortran.starts_with("True") {
        true
    } else if fortran.starts_with("False") {
        false
    } else {
        return Err("fortran_order is not True or False".into());
    };
    let shape = value_after("shape")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("shape is not a tuple")?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("bad shape entry '{s}'")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((dtype, fortran, shape))
}

fn decode<T: bytemuck::Pod>(data: &[u8]) -> Vec<T> {
    let mut out = vec![T::zeroed(); data.len() / std::mem::size_of::<T>()];
    bytemuck::cast_slice_mut::<T, u8>(&mut out).copy_from_slice(data);
    out
}

impl NpyArray {
    /// The array as vectors: f32 and u8 natively, f64 narrowed to f32.
    pub fn into_vectors(self, name: &str) -> Result<AnyVectors, IoError> {
        let m = |data| Matrix::new(self.dim, data).expect("rows * dim components");
        match self.dtype {
            Dtype::F32 => Ok(AnyVectors::F32(m(decode::<f32>(&self.data)))),
            Dtype::F64 => Ok(AnyVectors::F32(m(decode::<f64>(&self.data)
                .into_iter()
                .map(|x| x as f32)
                .collect()))),
            Dtype::U8 => Ok(AnyVectors::U8(
                Matrix::new(self.dim, self.data).expect("rows * dim bytes"),
            )),
            Dtype::I32 | Dtype::I64 | Dtype::U64 => Err(IoError::WrongContent {
                path: name.into(),
                reason: "holds integers; vectors must be float32, float64 or uint8".into(),
            }),
        }
    }

    /// The array as ids (neighbours or keys): uint64 natively; int32 and int64 with −1 read as
    /// [`crate::NO_ID`] (no neighbour) and any other negative value refused.
    pub fn into_ids(self, name: &str) -> Result<Matrix<u64>, IoError> {
        let data = match self.dtype {
            Dtype::U64 => decode::<u64>(&self.data),
            Dtype::I32 => crate::ids_from_signed(
                decode::<i32>(&self.data).into_iter().map(i64::from),
                self.dim,
                name,
            )?,
            Dtype::I64 => crate::ids_from_signed(decode::<i64>(&self.data), self.dim, name)?,
            _ => {
                return Err(IoError::WrongContent {
                    path: name.into(),
                    reason: "ids must be int32, int64 or uint64".into(),
                })
            }
        };
        Ok(Matrix::new(self.dim, data).expect("rows * dim ids"))
    }
}

/// Encodes a 2-D C-order `.npy` (version 1.0); used by tests and tools that export arrays.
pub fn encode<T: bytemuck::Pod>(descr: &str, m: &Matrix<T>) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({}, {}), }}",
        m.rows(),
        m.dim()
    );
    let pad = 64 - (10 + dict.len() + 1) % 64;
    let header = format!("{dict}{}\n", " ".repeat(pad % 64));
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(bytemuck::cast_slice(m.as_slice()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_f32_u8_and_ids() {
        let f = Matrix::from_rows(&[[1.0f32, 2.0], [3.0, 4.0]]).unwrap();
        let arr = parse(&encode("<f4", &f), "a.npy").unwrap();
        assert_eq!(arr.into_vectors("a.npy").unwrap(), AnyVectors::F32(f));
        let b = Matrix::from_rows(&[[1u8, 2, 3]]).unwrap();
        assert_eq!(
            parse(&encode("|u1", &b), "b").unwrap().into_vectors("b").unwrap(),
            AnyVectors::U8(b)
        );
        let wide = Matrix::from_rows(&[[7i64, -1, 1 << 40]]).unwrap();
        let ids = parse(&encode("<i8", &wide), "c").unwrap().into_ids("c").unwrap();
        assert_eq!(ids.as_slice(), &[7, crate::NO_ID, 1 << 40]);
        let keys = Matrix::from_rows(&[[u64::MAX - 1, 3]]).unwrap();
        let back = parse(&encode("<u8", &keys), "k").unwrap().into_ids("k").unwrap();
        assert_eq!(back, keys);
        let negative = Matrix::from_rows(&[[0i32], [-2]]).unwrap();
        let e = parse(&encode("<i4", &negative), "n")
            .unwrap()
            .into_ids("n")
            .unwrap_err();
        assert!(e.to_string().contains("row 1: negative id -2"), "{e}");
    }

    #[test]
    fn header_is_64_byte_aligned_like_numpy() {
        let m = Matrix::from_rows(&[[1.0f32]]).unwrap();
        assert_eq!((encode("<f4", &m).len() - 4) % 64, 0);
    }

    #[test]
    fn truncated_data_names_the_row() {
        let m = Matrix::new(4, (0..40).map(|i| i as f32).collect()).unwrap();
        let bytes = encode("<f4", &m);
        let cut = bytes.len() - 4 * 4 * 3 - 2;
        match parse(&bytes[..cut], "t.npy") {
            Err(IoError::Truncated { row, .. }) => assert_eq!(row, 6),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_fortran_order_and_3d() {
        let m = Matrix::from_rows(&[[1.0f32]]).unwrap();
        let good = encode("<f4", &m);
        let edit = |from: &str, to: &str| {
            let text = String::from_utf8(good[10..good.len() - 4].to_vec())
                .unwrap()
                .replace(from, to);
            [&good[..10], text.as_bytes(), &good[good.len() - 4..]].concat()
        };
        let e = parse(&edit("False", "True "), "f").unwrap_err().to_string();
        assert!(e.contains("Fortran"), "{e}");
        let e = parse(&edit("(1, 1)", "(1,1,1)"), "g").unwrap_err().to_string();
        assert!(e.contains("2-D"), "{e}");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(tail in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&tail);
            let _ = parse(&bytes, "p").map(|a| a.into_vectors("p"));
        }
    }
}
