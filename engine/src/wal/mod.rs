//! The write-ahead log: one file per generation (`wal-NNNNNNNNNNNNNNNNNNNN.log`)
//! in a collection's directory. Every write call appends one CRC-framed
//! [`crate::record::WalBatch`] and fsyncs before returning; concurrent writers
//! share an fsync (group commit, see `writer.rs`). A flush rotates to a new
//! generation; once the flush is published in the manifest the older files
//! are deleted.
//!
//! File layout: `magic "CHRMWAL1" | version u32 LE` (12 bytes), then frames
//! `len u32 | crc32 u32 | bincode payload` (see `codec.rs`).
//!
//! Recovery rule: frames are replayed in order until the first torn or
//! corrupt frame; that frame and everything after it is truncated away with
//! a warning. Earlier frames are kept.

pub(crate) mod reader;
pub(crate) mod writer;

use std::path::{Path, PathBuf};

/// Magic number at the start of every WAL file.
pub(crate) const WAL_MAGIC: &[u8; 8] = b"CHRMWAL1";
/// Current WAL format version.
pub(crate) const WAL_VERSION: u32 = 1;
/// Bytes of the file header.
pub(crate) const WAL_HEADER_LEN: usize = 12;

/// The file header bytes.
pub(crate) fn header() -> [u8; WAL_HEADER_LEN] {
    let mut h = [0u8; WAL_HEADER_LEN];
    h[..8].copy_from_slice(WAL_MAGIC);
    h[8..].copy_from_slice(&WAL_VERSION.to_le_bytes());
    h
}

/// The path of WAL generation `no` in `dir`.
pub(crate) fn path(dir: &Path, no: u64) -> PathBuf {
    dir.join(format!("wal-{no:020}.log"))
}

/// Parses a WAL file name back into its generation number.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    name.strip_prefix("wal-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}
