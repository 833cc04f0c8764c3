//! TEXMEX vector files (`.fvecs`, `.bvecs`, `.ivecs`), as used by SIFT1M/GIST1M: each row is a
//! little-endian `int32` dimension followed by that many components (`f32`, `u8`, `i32`).

use std::io::Write;

use crate::vectors::check_dim;
use crate::{IoError, Matrix};

#[cfg(not(target_endian = "little"))]
compile_error!("geodex reads and writes little-endian files and supports little-endian targets only");

/// Parses a whole TEXMEX file; `name` is used in errors. Every row's header must equal row 0's
/// and the file must end exactly after the last row.
pub fn parse<T: bytemuck::Pod>(bytes: &[u8], name: &str) -> Result<Matrix<T>, IoError> {
    let width = std::mem::size_of::<T>();
    let header = |row: usize, at: usize| -> Result<i64, IoError> {
        match bytes.get(at..at + 4) {
            Some(h) => Ok(i32::from_le_bytes([h[0], h[1], h[2], h[3]]) as i64),
            None => Err(IoError::Truncated {
                path: name.into(),
                row,
                needed: 4,
                available: bytes.len() - at,
            }),
        }
    };
    if bytes.is_empty() {
        return Err(IoError::Empty { path: name.into() });
    }
    let dim = check_dim(name, 0, header(0, 0)?)?;
    let row_bytes = 4 + dim * width;
    let rows = bytes.len().div_ceil(row_bytes);
    let mut data: Vec<T> = vec![T::zeroed(); rows * dim];
    let out: &mut [u8] = bytemuck::cast_slice_mut(&mut data);
    for row in 0..rows {
        let at = row * row_bytes;
        let found = header(row, at)?;
        if found != dim as i64 {
            return Err(match usize::try_from(found) {
                Ok(f) if (1..=crate::MAX_DIM).contains(&f) => IoError::RaggedRows {
                    path: name.into(),
                    row,
                    expected: dim,
                    found: f,
                },
                _ => IoError::BadDimension {
                    path: name.into(),
                    row,
                    dim: found,
                },
            });
        }
        let body = bytes
            .get(at + 4..at + row_bytes)
            .ok_or_else(|| IoError::Truncated {
                path: name.into(),
                row,
                needed: row_bytes,
                available: bytes.len() - at,
            })?;
        out[row * dim * width..(row + 1) * dim * width].copy_from_slice(body);
    }
    Ok(Matrix::new(dim, data).expect("rows * dim components with dim ≥ 1"))
}

/// Writes `m` in TEXMEX layout (the element type decides whether it is `.fvecs` or `.ivecs`).
pub fn write<T: bytemuck::Pod>(w: &mut dyn Write, m: &Matrix<T>) -> std::io::Result<()> {
    let dim = i32::try_from(m.dim()).map_err(|_| std::io::Error::other("dimension exceeds i32"))?;
    for row in m.iter() {
        w.write_all(&dim.to_le_bytes())?;
        w.write_all(bytemuck::cast_slice(row))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode<T: bytemuck::Pod>(m: &Matrix<T>) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out, m).unwrap();
        out
    }

    #[test]
    fn reads_what_it_writes() {
        let m = Matrix::from_rows(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]).unwrap();
        let bytes = encode(&m);
        assert_eq!(bytes.len(), 2 * (4 + 12));
        assert_eq!(parse::<f32>(&bytes, "t").unwrap(), m);
    }

    #[test]
    fn truncation_names_the_row() {
        let m = Matrix::from_rows(&[[1u8, 2], [3, 4], [5, 6]]).unwrap();
        let bytes = encode(&m);
        for cut in (1..bytes.len()).filter(|c| c % 6 != 0) {
            match parse::<u8>(&bytes[..cut], "t.bvecs") {
                Err(IoError::Truncated { row, .. }) => assert_eq!(row, cut / 6, "cut at {cut}"),
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_headers_are_rejected() {
        let mut bytes = encode(&Matrix::from_rows(&[[1i32, 2], [3, 4]]).unwrap());
        bytes[12..16].copy_from_slice(&3i32.to_le_bytes());
        assert!(matches!(
            parse::<i32>(&bytes, "t"),
            Err(IoError::RaggedRows { row: 1, found: 3, .. })
        ));
        bytes[0..4].copy_from_slice(&(-1i32).to_le_bytes());
        assert!(matches!(
            parse::<i32>(&bytes, "t"),
            Err(IoError::BadDimension { row: 0, dim: -1, .. })
        ));
        assert!(matches!(parse::<i32>(&[], "t"), Err(IoError::Empty { .. })));
        let msg = parse::<i32>(&bytes, "g.ivecs").unwrap_err().to_string();
        assert!(msg.starts_with("g.ivecs: row 0"), "{msg}");
    }

    proptest! {
        #[test]
        fn round_trip(dim in 1usize..40, rows in 1usize..20, seed in any::<u64>()) {
            let data: Vec<f32> = (0..dim * rows).map(|i| (i as u64 ^ seed) as f32).collect();
            let m = Matrix::new(dim, data).unwrap();
            prop_assert_eq!(parse::<f32>(&encode(&m), "p").unwrap(), m);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse::<f32>(&bytes, "p");
            let _ = parse::<u8>(&bytes, "p");
        }
    }
}
