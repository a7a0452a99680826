//! A segment's sparse section: the posting lists of every sparse key whose
//! index the schema enables, written with the segment (flush and
//! compaction alike build it from the rows they write) and used in place
//! from the segment's map.
//!
//! Layout, from the section's start (8-aligned in the segment file;
//! integers little-endian):
//!
//! ```text
//! offset   size  field
//!  0        8    magic "CHRMSPX1"
//!  8        4    format version (1)
//! 12        4    reserved (0)
//! 16        8    D: directory length
//! 24        D    directory: bincode `Directory`, per key (in key order):
//!                  key, terms (ascending), starts (terms + 1 posting
//!                  indexes: term i's list is postings starts[i]..starts[i+1],
//!                  so its length is the term's document frequency),
//!                  max and min weight per term (the lists' bounds),
//!                  offset of the key's postings (bytes from P), crc32 of them
//! P = 24 + D rounded up to 4
//! P + offset     per key: rows u32[n] then weights f32[n], n = starts[last]
//! ```
//!
//! The segment header's checksum field for the section covers bytes
//! `0..24 + D` (header and directory), checked when the section is first
//! used: opening it decodes the directory only. A key's postings are
//! checked against their crc the first time a query reads that key.

use std::collections::HashMap;
use std::sync::OnceLock;

use bincode::{Decode, Encode};

use super::mem::OwnedList;
use super::PostingList;
use crate::codec::{u32_at, u64_at};
use crate::metadata::{Metadata, MetadataValue};

/// Magic number at the start of a sparse section.
pub(crate) const SPARSE_MAGIC: &[u8; 8] = b"CHRMSPX1";
/// Current sparse-section format version.
pub(crate) const SPARSE_VERSION: u32 = 1;
const PREFIX_LEN: usize = 24;

#[derive(Debug, Encode, Decode)]
struct Directory {
    keys: Vec<KeyDir>,
}

#[derive(Debug, Encode, Decode)]
struct KeyDir {
    key: String,
    terms: Vec<u32>,
    starts: Vec<u64>,
    max: Vec<f32>,
    min: Vec<f32>,
    offset: u64,
    crc: u32,
}

/// Builds the section for `keys` over `rows` (row number and metadata, rows
/// ascending). Returns the section's bytes and the checksum the segment
/// header keeps for it; no bytes when `keys` is empty.
pub(crate) fn build<'a>(
    keys: &[String],
    rows: impl Iterator<Item = (u32, Option<&'a Metadata>)>,
) -> (Vec<u8>, u32) {
    if keys.is_empty() {
        return (Vec::new(), 0);
    }
    let mut lists: Vec<HashMap<u32, OwnedList>> = vec![HashMap::new(); keys.len()];
    for (row, m) in rows {
        let Some(m) = m else { continue };
        for (k, key) in keys.iter().enumerate() {
            if let Some(MetadataValue::SparseVector(v)) = m.get(key) {
                for (&t, &w) in v.indices.iter().zip(&v.values) {
                    let l = lists[k].entry(t).or_default();
                    l.0.push(row);
                    l.1.push(w);
                }
            }
        }
    }
    let mut dir = Directory { keys: Vec::new() };
    let mut postings: Vec<u8> = Vec::new();
    for (key, lists) in keys.iter().zip(lists) {
        let mut terms: Vec<u32> = lists.keys().copied().collect();
        terms.sort_unstable();
        let mut kd = KeyDir {
            key: key.clone(),
            starts: Vec::with_capacity(terms.len() + 1),
            max: Vec::with_capacity(terms.len()),
            min: Vec::with_capacity(terms.len()),
            offset: postings.len() as u64,
            crc: 0,
            terms: Vec::new(),
        };
        let mut rows: Vec<u8> = Vec::new();
        let mut weights: Vec<u8> = Vec::new();
        kd.starts.push(0);
        for t in &terms {
            let (r, w) = &lists[t];
            rows.extend_from_slice(bytemuck::cast_slice(r));
            weights.extend_from_slice(bytemuck::cast_slice(w));
            kd.starts
                .push(kd.starts.last().copied().unwrap_or(0) + r.len() as u64);
            kd.max
                .push(w.iter().copied().fold(f32::NEG_INFINITY, f32::max));
            kd.min.push(w.iter().copied().fold(f32::INFINITY, f32::min));
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&rows);
        crc.update(&weights);
        kd.crc = crc.finalize();
        kd.terms = terms;
        postings.extend_from_slice(&rows);
        postings.extend_from_slice(&weights);
        dir.keys.push(kd);
    }
    let d = crate::codec::encode(&dir);
    let mut out = Vec::with_capacity(PREFIX_LEN + d.len() + 4 + postings.len());
    out.extend_from_slice(SPARSE_MAGIC);
    out.extend_from_slice(&SPARSE_VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(d.len() as u64).to_le_bytes());
    out.extend_from_slice(&d);
    let crc = crc32fast::hash(&out);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(&postings);
    (out, crc)
}

/// A decoded directory; the lists stay in the section's bytes.
#[derive(Debug)]
pub(crate) struct SparseSection {
    keys: Vec<KeyDir>,
    /// Where the postings start (`P`).
    postings_start: usize,
    /// Per key: its postings' checksum, verified on first use.
    verified: Vec<OnceLock<Result<(), String>>>,
}

/// One term's list with its bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TermList<'a> {
    pub(crate) list: PostingList<'a>,
    pub(crate) max: f32,
    pub(crate) min: f32,
}

impl SparseSection {
    /// Checks the section's header and directory against `crc` (the
    /// segment header's) and decodes the directory.
    pub(crate) fn decode(bytes: &[u8], crc: u32) -> Result<SparseSection, String> {
        if bytes.len() < PREFIX_LEN || &bytes[..8] != SPARSE_MAGIC {
            return Err("sparse section: bad magic number".into());
        }
        let version = u32_at(bytes, 8);
        if version != SPARSE_VERSION {
            return Err(format!("sparse section: unsupported version {version}"));
        }
        let dlen = usize::try_from(u64_at(bytes, 16)).unwrap_or(usize::MAX);
        let dir_end = PREFIX_LEN
            .checked_add(dlen)
            .filter(|&e| e <= bytes.len())
            .ok_or("sparse section: directory runs past the file's end")?;
        if crc32fast::hash(&bytes[..dir_end]) != crc {
            return Err("sparse section: directory checksum mismatch".into());
        }
        let dir: Directory = crate::codec::decode(&bytes[PREFIX_LEN..dir_end])
            .map_err(|e| format!("sparse section: {e}"))?;
        let postings_start = dir_end.next_multiple_of(4);
        let area = bytes.len().saturating_sub(postings_start) as u64;
        for k in &dir.keys {
            let n = k.terms.len();
            let ok = k.starts.len() == n + 1
                && k.max.len() == n
                && k.min.len() == n
                && k.starts.first() == Some(&0)
                && k.starts.windows(2).all(|w| w[0] <= w[1])
                && k.terms.windows(2).all(|w| w[0] < w[1])
                && k.offset % 4 == 0
                && k.starts[n]
                    .checked_mul(8)
                    .and_then(|b| b.checked_add(k.offset))
                    .is_some_and(|end| end <= area);
            if !ok {
                return Err(format!(
                    "sparse section: the directory of key {:?} is inconsistent",
                    k.key
                ));
            }
        }
        let verified = dir.keys.iter().map(|_| OnceLock::new()).collect();
        Ok(SparseSection {
            keys: dir.keys,
            postings_start,
            verified,
        })
    }

    /// The position of `key` in the section, if its postings are here.
    pub(crate) fn key(&self, key: &str) -> Option<usize> {
        self.keys.iter().position(|k| k.key == key)
    }

    /// The postings of key `k` as `(rows, weights)` over `bytes` (the
    /// section), checked against their crc the first time.
    fn postings<'a>(&self, bytes: &'a [u8], k: usize) -> Result<(&'a [u32], &'a [f32]), String> {
        let kd = &self.keys[k];
        let n = kd.starts[kd.terms.len()] as usize;
        let start = self.postings_start + kd.offset as usize;
        let area = &bytes[start..start + 8 * n];
        self.verified[k]
            .get_or_init(|| {
                if crc32fast::hash(area) == kd.crc {
                    Ok(())
                } else {
                    Err(format!(
                        "sparse section: postings of key {:?} fail their checksum",
                        kd.key
                    ))
                }
            })
            .clone()?;
        let rows = bytemuck::try_cast_slice::<u8, u32>(&area[..4 * n])
            .map_err(|e| format!("sparse section: rows are not aligned: {e}"))?;
        let weights = bytemuck::try_cast_slice::<u8, f32>(&area[4 * n..])
            .map_err(|e| format!("sparse section: weights are not aligned: {e}"))?;
        Ok((rows, weights))
    }

    /// Term `t`'s list under key `k`, if any row holds it.
    pub(crate) fn term<'a>(
        &self,
        bytes: &'a [u8],
        k: usize,
        t: u32,
    ) -> Result<Option<TermList<'a>>, String> {
        let kd = &self.keys[k];
        let Ok(i) = kd.terms.binary_search(&t) else {
            return Ok(None);
        };
        let (rows, weights) = self.postings(bytes, k)?;
        let (a, b) = (kd.starts[i] as usize, kd.starts[i + 1] as usize);
        Ok(Some(TermList {
            list: PostingList {
                rows: &rows[a..b],
                weights: &weights[a..b],
            },
            max: kd.max[i],
            min: kd.min[i],
        }))
    }

    /// Checks every key's postings (a whole-file check).
    pub(crate) fn check_all(&self, bytes: &[u8]) -> Result<(), String> {
        (0..self.keys.len()).try_for_each(|k| self.postings(bytes, k).map(|_| ()))
    }

    /// `(terms, postings)` of key `k`, for statistics.
    pub(crate) fn size(&self, k: usize) -> (usize, u64) {
        let kd = &self.keys[k];
        (kd.terms.len(), kd.starts[kd.terms.len()])
    }

    /// Postings of every key, for statistics.
    pub(crate) fn postings_count(&self) -> u64 {
        (0..self.keys.len()).map(|k| self.size(k).1).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::SparseVector;

    fn meta(key: &str, indices: Vec<u32>, values: Vec<f32>) -> Metadata {
        let mut m = Metadata::new();
        m.insert(
            key.into(),
            MetadataValue::SparseVector(SparseVector {
                indices,
                values,
                tokens: None,
            }),
        );
        m
    }

    #[test]
    fn round_trips_and_detects_damage() {
        let rows = [
            meta("s", vec![1, 5], vec![0.5, 2.0]),
            meta("other", vec![1], vec![9.0]),
            meta("s", vec![5, 7], vec![-1.0, 3.0]),
        ];
        let keys = vec!["s".to_string(), "none".to_string()];
        let (bytes, crc) = build(
            &keys,
            rows.iter().enumerate().map(|(r, m)| (r as u32, Some(m))),
        );
        let sec = SparseSection::decode(&bytes, crc).unwrap();
        let k = sec.key("s").unwrap();
        let t5 = sec.term(&bytes, k, 5).unwrap().unwrap();
        assert_eq!(t5.list.rows, &[0, 2]);
        assert_eq!(t5.list.weights, &[2.0, -1.0]);
        assert_eq!((t5.max, t5.min), (2.0, -1.0));
        assert!(sec.term(&bytes, k, 2).unwrap().is_none());
        assert_eq!(sec.size(k), (3, 4));
        assert_eq!(sec.size(sec.key("none").unwrap()), (0, 0));
        assert!(sec.key("other").is_none());
        assert!(SparseSection::decode(&bytes, crc ^ 1).is_err());
        // A flipped posting byte is found when the key is first read.
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        let sec = SparseSection::decode(&bad, crc).unwrap();
        let e = sec.term(&bad, k, 5).unwrap_err();
        assert!(e.contains("checksum"), "{e}");
    }
}
