//! A collection's manifest: which segments are live, where the WAL starts,
//! the last sequence number covered by the segments and the collection's
//! dimension and the metadata keys its records brought (schema
//! discovery). Rewritten atomically (temp, fsync, rename, fsync dir) as the
//! single commit point of every flush and compaction.
//!
//! File `MANIFEST`: envelope (`codec.rs`) with magic `CHRMMAN1` and a
//! bincode [`Manifest`] payload. Version 2 appends `schema_keys`; a
//! version-1 manifest (no keys) still opens, with none.

use std::path::{Path, PathBuf};

use bincode::{Decode, Encode};

use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"CHRMMAN1";
const VERSION: u32 = 2;

/// The manifest's contents.
#[derive(Debug, Clone, Default, PartialEq, Encode, Decode)]
pub(crate) struct Manifest {
    /// Live segment file numbers, oldest first.
    pub(crate) segments: Vec<u64>,
    /// First WAL generation not covered by the segments; older ones are garbage.
    pub(crate) wal_start: u64,
    /// Highest sequence number whose effect is in the segments.
    pub(crate) last_seq: u64,
    /// Dimension fixed by the first write, if any.
    pub(crate) dimension: Option<u64>,
    /// Next unused file number (WAL generations and segments share the counter).
    pub(crate) next_file_no: u64,
    /// The metadata keys the schema has entries for and, per key, a bit
    /// set of value types (`schema::ValueType::bit`); covers at least
    /// every record up to `last_seq`.
    pub(crate) schema_keys: Vec<(String, u8)>,
}

/// Version 1's payload: version 2's without `schema_keys`.
#[derive(Decode)]
struct ManifestV1 {
    segments: Vec<u64>,
    wal_start: u64,
    last_seq: u64,
    dimension: Option<u64>,
    next_file_no: u64,
}

/// The manifest path in a collection directory.
pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join("MANIFEST")
}

impl Manifest {
    /// Writes the manifest atomically.
    pub(crate) fn store(&self, fs: &dyn crate::fs::Fs, dir: &Path) -> Result<()> {
        let bytes = crate::codec::envelope(MAGIC, VERSION, &crate::codec::encode(self));
        crate::fs::atomic_write(fs, &path(dir), &bytes)
    }

    /// Reads and checks the manifest.
    pub(crate) fn load(dir: &Path) -> Result<Manifest> {
        let p = path(dir);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::corrupted(&p, "the collection's manifest is missing"))
            }
            Err(e) => return Err(Error::io(&p, e)),
        };
        Self::decode(&bytes).map_err(|d| Error::corrupted(&p, d))
    }

    /// Parses manifest bytes.
    pub(crate) fn decode(bytes: &[u8]) -> std::result::Result<Manifest, String> {
        let (version, payload) = crate::codec::open_envelope(MAGIC, 1..=VERSION, bytes)?;
        let m: Manifest = if version == 1 {
            let v1: ManifestV1 = crate::codec::decode(payload)?;
            Manifest {
                segments: v1.segments,
                wal_start: v1.wal_start,
                last_seq: v1.last_seq,
                dimension: v1.dimension,
                next_file_no: v1.next_file_no,
                schema_keys: Vec::new(),
            }
        } else {
            crate::codec::decode(payload)?
        };
        if m.wal_start >= m.next_file_no || m.segments.iter().any(|&s| s >= m.next_file_no) {
            return Err("file numbers beyond next_file_no".into());
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bincode::Encode;

    #[test]
    fn version_2_round_trips_and_version_1_opens_without_keys() {
        let m = Manifest {
            segments: vec![3, 5],
            wal_start: 6,
            last_seq: 42,
            dimension: Some(384),
            next_file_no: 7,
            schema_keys: vec![("year".into(), 0b0110)],
        };
        let bytes = crate::codec::envelope(MAGIC, VERSION, &crate::codec::encode(&m));
        assert_eq!(Manifest::decode(&bytes).unwrap(), m);

        #[derive(Encode)]
        struct V1 {
            segments: Vec<u64>,
            wal_start: u64,
            last_seq: u64,
            dimension: Option<u64>,
            next_file_no: u64,
        }
        let v1 = V1 {
            segments: m.segments.clone(),
            wal_start: 6,
            last_seq: 42,
            dimension: Some(384),
            next_file_no: 7,
        };
        let bytes = crate::codec::envelope(MAGIC, 1, &crate::codec::encode(&v1));
        let back = Manifest::decode(&bytes).unwrap();
        assert_eq!(
            back,
            Manifest {
                schema_keys: Vec::new(),
                ..m
            }
        );
        let bytes = crate::codec::envelope(MAGIC, 3, &crate::codec::encode(&v1));
        assert!(Manifest::decode(&bytes)
            .unwrap_err()
            .contains("unsupported format version 3"));
    }
}
