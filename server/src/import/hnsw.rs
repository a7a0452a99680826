//! The vectors a Chroma VECTOR segment folder holds once flushed
//! (`../shared/chroma-format.md` §4): hnswlib's `header.bin`,
//! `data_level0.bin` (per slot: flags, neighbours, vector, label),
//! `length.bin` (cosine norms) and the pickled label ↔ id map.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use serde::Deserialize;

use super::ImportError;

/// `index_metadata.pickle` (1.x: a dict; 0.4–0.6: a `PersistentData`
/// object whose state dict decodes the same way).
#[derive(Debug, Default, Deserialize)]
struct IdMap {
    #[serde(default)]
    label_to_id: HashMap<u64, String>,
    #[serde(default)]
    max_seq_id: Option<u64>,
}

/// What a flushed index holds.
#[derive(Debug, Default)]
pub struct Flushed {
    /// The vector of every live id (cosine: multiplied back by its norm,
    /// as Chroma's `get()` returns it).
    pub vectors: HashMap<String, Vec<f32>>,
    /// The pickle's watermark (0.4.0–0.5.5 kept it there).
    pub max_seq_id: Option<u64>,
}

/// `header.bin`'s fields the import uses.
struct Header {
    count: u64,
    size_per_element: u64,
    label_offset: u64,
    offset_data: u64,
}

fn header(path: &Path) -> Result<Header, ImportError> {
    let bytes = std::fs::read(path).map_err(|e| ImportError::io(path, e))?;
    let bad = |what: String| ImportError::Data {
        file: path.to_path_buf(),
        what,
    };
    if bytes.len() < 100 {
        return Err(bad(format!(
            "{} bytes, shorter than hnswlib's 100-byte header",
            bytes.len()
        )));
    }
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap_or([0; 8]));
    let version = i32::from_le_bytes(bytes[0..4].try_into().unwrap_or([0; 4]));
    if version != 1 {
        return Err(bad(format!("persistence version {version}, not 1")));
    }
    Ok(Header {
        count: u64_at(20),
        size_per_element: u64_at(28),
        label_offset: u64_at(36),
        offset_data: u64_at(44),
    })
}

/// Reads the folder `dir` of a collection of dimension `dim`; `None` when
/// it was never flushed (no pickle: every vector is still in the queue).
pub fn read(dir: &Path, dim: usize, cosine: bool) -> Result<Option<Flushed>, ImportError> {
    let pickle = dir.join("index_metadata.pickle");
    if !pickle.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&pickle).map_err(|e| ImportError::io(&pickle, e))?;
    let map: IdMap = serde_pickle::from_slice(
        &bytes,
        serde_pickle::DeOptions::new().replace_unresolved_globals(),
    )
    .map_err(|e| ImportError::Data {
        file: pickle.clone(),
        what: format!("the id map does not decode: {e}"),
    })?;
    let hpath = dir.join("header.bin");
    let h = header(&hpath)?;
    let bad = |file: &Path, what: String| ImportError::Data {
        file: file.to_path_buf(),
        what,
    };
    if h.label_offset < h.offset_data
        || (h.label_offset - h.offset_data) != 4 * dim as u64
        || h.label_offset.checked_add(8) != Some(h.size_per_element)
    {
        return Err(bad(
            &hpath,
            format!(
                "element layout (size {}, data at {}, label at {}) does not fit the collection's dimension {dim}",
                h.size_per_element, h.offset_data, h.label_offset
            ),
        ));
    }
    let dpath = dir.join("data_level0.bin");
    let file = File::open(&dpath).map_err(|e| ImportError::io(&dpath, e))?;
    let len = file
        .metadata()
        .map_err(|e| ImportError::io(&dpath, e))?
        .len();
    if len < h.count.saturating_mul(h.size_per_element) || (h.count > 0 && h.size_per_element > len)
    {
        return Err(bad(
            &dpath,
            format!(
                "{len} bytes, shorter than {} slots of {} bytes",
                h.count, h.size_per_element
            ),
        ));
    }
    let norms = if cosine {
        let lpath = dir.join("length.bin");
        let b = std::fs::read(&lpath).map_err(|e| ImportError::io(&lpath, e))?;
        if (b.len() as u64) < 4 * h.count {
            return Err(bad(
                &lpath,
                format!("{} bytes, shorter than {} norms", b.len(), h.count),
            ));
        }
        crate::wire::embedding::f32s_from_le(&b)
    } else {
        Vec::new()
    };
    let mut r = BufReader::with_capacity(1 << 20, file);
    // Bounded by the file's length (checked above) when there are slots.
    let mut slot = vec![
        0u8;
        if h.count > 0 {
            h.size_per_element as usize
        } else {
            0
        }
    ];
    let mut out = Flushed {
        vectors: HashMap::with_capacity(map.label_to_id.len()),
        max_seq_id: map.max_seq_id,
    };
    let (data, label_at) = (h.offset_data as usize, h.label_offset as usize);
    for i in 0..h.count as usize {
        r.read_exact(&mut slot)
            .map_err(|e| ImportError::io(&dpath, e))?;
        if slot[2] & 1 != 0 {
            continue; // deleted
        }
        let label = u64::from_le_bytes(slot[label_at..label_at + 8].try_into().unwrap_or([0; 8]));
        let Some(id) = map.label_to_id.get(&label) else {
            continue;
        };
        let mut v = crate::wire::embedding::f32s_from_le(&slot[data..data + 4 * dim]);
        if let Some(&n) = norms.get(i) {
            v.iter_mut().for_each(|x| *x *= n);
        }
        out.vectors.insert(id.clone(), v);
    }
    Ok(Some(out))
}

/// The vector Chroma 1.x's `get()` returns for a cosine vector `x` it
/// holds only in its queue: hnswlib's normalisation round trip,
/// `fl32(fl32(x · inv) · len)` with `len = sqrtf(Σ x²)` summed in order in
/// f32 and `inv = 1 / (len + 1e-30)` (`chroma-format.md` §5).
pub fn cosine_round_trip(x: &[f32]) -> Vec<f32> {
    let mut sum = 0f32;
    for v in x {
        sum += v * v;
    }
    let len = sum.sqrt();
    let inv = 1.0 / (len + 1e-30f32);
    x.iter().map(|v| (v * inv) * len).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder whose id map decodes and whose header says `fields`.
    fn folder(fields: &[(usize, u64)], data_len: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let map: HashMap<String, HashMap<u64, String>> =
            HashMap::from([("label_to_id".to_string(), HashMap::new())]);
        let pickle = serde_pickle::to_vec(&map, serde_pickle::SerOptions::new()).unwrap();
        std::fs::write(dir.path().join("index_metadata.pickle"), pickle).unwrap();
        let mut h = vec![0u8; 100];
        h[0..4].copy_from_slice(&1i32.to_le_bytes());
        for &(at, v) in fields {
            h[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        std::fs::write(dir.path().join("header.bin"), h).unwrap();
        std::fs::write(dir.path().join("data_level0.bin"), vec![0u8; data_len]).unwrap();
        dir
    }

    #[test]
    fn a_damaged_header_is_an_error_naming_the_file_not_a_panic() {
        // count, size per element, label offset, data offset.
        let cases: [&[(usize, u64)]; 3] = [
            &[(20, 0), (28, u64::MAX), (36, u64::MAX), (44, u64::MAX - 32)],
            &[
                (20, 1),
                (28, 1 << 40),
                (36, (1 << 40) - 8),
                (44, (1 << 40) - 8 - 32),
            ],
            &[(20, u64::MAX / 2), (28, 172), (36, 164), (44, 132)],
        ];
        for fields in cases {
            let dir = folder(fields, 1000);
            let e = read(dir.path(), 8, false).unwrap_err().to_string();
            assert!(e.contains(&dir.path().display().to_string()), "{e}");
        }
        // A consistent header with no slots reads as an empty index.
        let dir = folder(&[(20, 0), (28, 172), (36, 164), (44, 132)], 0);
        assert!(read(dir.path(), 8, false)
            .unwrap()
            .unwrap()
            .vectors
            .is_empty());
    }
}
