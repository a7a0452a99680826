//! The journal: a collection's write-ahead log, all of it — the ops it logs
//! (`record.rs`), appending with group commit (`writer.rs`), reading back
//! and truncating a bad tail (`reader.rs`), and [`recover`], which turns
//! the files into the batches a reopened collection applies.
//!
//! The WAL is one file per generation (`wal-NNNNNNNNNNNNNNNNNNNN.log`) in a
//! collection's directory. Every write call appends one CRC-framed
//! [`WalBatch`] and fsyncs before returning; concurrent writers share an
//! fsync (group commit, see `writer.rs`). The one commit path is
//! `collection/write.rs::commit` (append → apply → publish → fsync, a failed
//! append or fsync poisoning the collection); the one apply, shared by
//! writing and [`recover`]'s replay, is `Version::apply`. A flush rotates to a new
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
mod record;
pub(crate) mod writer;

use std::path::{Path, PathBuf};

pub(crate) use record::{Op, WalBatch};
pub(crate) use writer::WalFile;

use crate::error::Result;
use crate::fs::Fs;

/// Magic number at the start of every WAL file.
pub(crate) const WAL_MAGIC: &[u8; 8] = b"CHRMWAL1";
/// Current WAL format version. Version 2 may hold sparse-vector metadata
/// values (codec tag 8); a version-1 file is the same format without them,
/// and still replays.
pub(crate) const WAL_VERSION: u32 = 2;
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

/// What [`recover`] found: the batches to apply, in order, and the WAL
/// generation to keep appending to.
pub(crate) struct Recovered {
    /// Logged batches newer than `last_seq`, trimmed of ops already held.
    pub(crate) batches: Vec<WalBatch>,
    /// The newest generation, open for appending at its valid length (or
    /// generation `start`, created, when there was none; or generation
    /// `fresh`, created, when the newest is in an older format version).
    pub(crate) wal: WalFile,
    /// Whether generation `fresh` was used.
    pub(crate) used_fresh: bool,
}

/// Replays generations `nos` (ascending) of `dir`, truncating a torn or
/// corrupt tail, and keeps only the ops numbered after `last_seq` (what
/// the segments already hold is skipped). With no generation, creates
/// generation `start`. New writes never go into a file of an older format
/// version (an older binary reading it back would take the newer frames
/// for a torn tail): then generation `fresh` is created for them.
pub(crate) fn recover(
    fs: &dyn Fs,
    dir: &Path,
    nos: &[u64],
    last_seq: u64,
    start: u64,
    fresh: u64,
) -> Result<Recovered> {
    let mut batches = Vec::new();
    let mut wal_len = 0;
    let mut current = true;
    for &no in nos {
        let replay = reader::replay(fs, dir, no)?;
        wal_len = replay.valid_len;
        current = replay.current;
        for mut batch in replay.batches {
            let skip = (last_seq + 1).saturating_sub(batch.first_seq) as usize;
            if skip >= batch.ops.len() {
                continue;
            }
            batch.ops.drain(..skip);
            batch.first_seq += skip as u64;
            batches.push(batch);
        }
    }
    let (wal, used_fresh) = match nos.last() {
        Some(&no) if current => (WalFile::open_append(fs, dir, no, wal_len)?, false),
        Some(_) => (WalFile::create(fs, dir, fresh)?, true),
        None => (WalFile::create(fs, dir, start)?, false),
    };
    Ok(Recovered {
        batches,
        wal,
        used_fresh,
    })
}
