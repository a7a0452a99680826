//! A collection's manifest: which segments are live, where the WAL starts,
//! the last sequence number covered by the segments and the collection's
//! dimension. Rewritten atomically (temp, fsync, rename, fsync dir) as the
//! single commit point of every flush and compaction.
//!
//! File `MANIFEST`: envelope (`codec.rs`) with magic `CHRMMAN1`, version 1,
//! bincode [`Manifest`] payload.

use std::path::{Path, PathBuf};

use bincode::{Decode, Encode};

use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"CHRMMAN1";
const VERSION: u32 = 1;

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
        let payload = crate::codec::open_envelope(MAGIC, VERSION, bytes)?;
        let m: Manifest = crate::codec::decode(payload)?;
        if m.wal_start >= m.next_file_no || m.segments.iter().any(|&s| s >= m.next_file_no) {
            return Err("file numbers beyond next_file_no".into());
        }
        Ok(m)
    }
}
