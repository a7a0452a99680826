//! Reading a WAL generation back at recovery, truncating a bad tail.

use std::path::Path;

use super::WalBatch;
use crate::codec::{self, Frame};
use crate::error::{Error, Result};
use crate::fs::Fs;

/// What replaying one WAL file produced.
pub(crate) struct Replay {
    /// The good batches, in order.
    pub(crate) batches: Vec<WalBatch>,
    /// Length of the valid prefix (the file is truncated to it).
    pub(crate) valid_len: u64,
    /// Whether the file is in the current format version (appending to an
    /// older one would mix versions in one file).
    pub(crate) current: bool,
}

/// Parses WAL bytes (header + frames); returns the good batches, the valid
/// length and, if the tail was bad, why. Pure: used by recovery and fuzzing.
pub(crate) fn parse(
    bytes: &[u8],
) -> std::result::Result<(Vec<WalBatch>, usize, Option<String>), String> {
    if bytes.len() < super::WAL_HEADER_LEN {
        // A crash while creating the file: treat as empty.
        return Ok((
            Vec::new(),
            0,
            Some(format!("torn file header ({} bytes)", bytes.len())),
        ));
    }
    if &bytes[..8] != super::WAL_MAGIC {
        return Err("bad magic number".into());
    }
    let version = codec::u32_at(bytes, 8);
    if !(1..=super::WAL_VERSION).contains(&version) {
        return Err(format!("unsupported WAL version {version}"));
    }
    let mut pos = super::WAL_HEADER_LEN;
    let mut batches = Vec::new();
    loop {
        match codec::decode_frame(&bytes[pos..]) {
            Frame::End => return Ok((batches, pos, None)),
            Frame::Batch(b, used) => {
                batches.push(b);
                pos += used;
            }
            Frame::Bad(why) => return Ok((batches, pos, Some(why))),
        }
    }
}

/// Reads generation `no`, truncating (and fsyncing) a torn or corrupt tail.
pub(crate) fn replay(fs: &dyn Fs, dir: &Path, no: u64) -> Result<Replay> {
    let path = super::path(dir, no);
    let bytes = crate::fs::read(&path)?;
    let (batches, valid, bad) = parse(&bytes).map_err(|d| Error::corrupted(&path, d))?;
    let current = valid < super::WAL_HEADER_LEN || codec::u32_at(&bytes, 8) == super::WAL_VERSION;
    if let Some(why) = bad {
        tracing::warn!(
            file = %path.display(),
            kept_batches = batches.len(),
            discarded_bytes = bytes.len() - valid,
            "WAL tail is torn or corrupt ({why}); truncating it"
        );
        if valid == 0 {
            // Rewrite a torn header.
            let f = fs.create(&path).map_err(|e| Error::io(&path, e))?;
            f.write_all(&super::header())
                .map_err(|e| Error::io(&path, e))?;
            f.sync_all().map_err(|e| Error::io(&path, e))?;
            return Ok(Replay {
                batches,
                valid_len: super::WAL_HEADER_LEN as u64,
                current: true,
            });
        }
        fs.truncate(&path, valid as u64)
            .map_err(|e| Error::io(&path, e))?;
    }
    Ok(Replay {
        batches,
        valid_len: valid as u64,
        current,
    })
}
