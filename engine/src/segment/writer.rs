//! Writing a segment file: header placeholder, vector column, records
//! section, then the real header; written to a temp name, fsynced, renamed
//! into place and the directory fsynced.

use std::io::{BufWriter, Write};
use std::path::Path;

use super::records::SegmentRecordsRef;
use super::{Header, Segment, HEADER_LEN};
use crate::error::{Error, Result};
use crate::fs::{Fs, WriteFile};
use crate::record::StoredRecord;

/// Writes segment `file_no` holding `records` (sorted by order key here)
/// and `tombstones`, with the posting lists of the sparse keys
/// `sparse_keys`, and opens it.
pub(crate) fn write(
    fs: &dyn Fs,
    dir: &Path,
    file_no: u64,
    dim: usize,
    mut records: Vec<&StoredRecord>,
    tombstones: Vec<&str>,
    sparse_keys: &[String],
) -> Result<Segment> {
    records.sort_by_key(|r| r.order);
    let path = super::path(dir, file_no);
    let tmp = crate::fs::temp_path(&path);
    let io = |e| Error::io(&tmp, e);
    let file = fs.create(&tmp).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, Appender(&*file));
    w.write_all(&[0u8; HEADER_LEN]).map_err(io)?;
    let mut vcrc = crc32fast::Hasher::new();
    for r in &records {
        if r.embedding.len() != dim {
            return Err(Error::Internal(format!(
                "record {:?} has {} dimensions in a {dim}-d collection",
                r.id,
                r.embedding.len()
            )));
        }
        let bytes: &[u8] = bytemuck::cast_slice(&r.embedding);
        vcrc.update(bytes);
        w.write_all(bytes).map_err(io)?;
    }
    let section = SegmentRecordsRef {
        ids: records.iter().map(|r| r.id.as_str()).collect(),
        orders: records.iter().map(|r| r.order).collect(),
        documents: records.iter().map(|r| r.document.as_deref()).collect(),
        metadatas: records.iter().map(|r| r.metadata.as_ref()).collect(),
        uris: records.iter().map(|r| r.uri.as_deref()).collect(),
        tombstones,
    };
    let recs = crate::codec::encode(&section);
    w.write_all(&recs).map_err(io)?;
    let (sparse, sparse_crc) = crate::sparse::section::build(
        sparse_keys,
        records
            .iter()
            .enumerate()
            .map(|(row, r)| (row as u32, r.metadata.as_ref())),
    );
    let vec_bytes = (records.len() * dim * 4) as u64;
    let records_end = HEADER_LEN as u64 + vec_bytes + recs.len() as u64;
    if !sparse.is_empty() {
        let pad = records_end.next_multiple_of(8) - records_end;
        w.write_all(&[0u8; 8][..pad as usize]).map_err(io)?;
        w.write_all(&sparse).map_err(io)?;
    }
    let header = Header {
        dim: dim as u32,
        rows: records.len() as u64,
        vectors_offset: HEADER_LEN as u64,
        records_offset: HEADER_LEN as u64 + vec_bytes,
        records_len: recs.len() as u64,
        vectors_crc: vcrc.finalize(),
        records_crc: crc32fast::hash(&recs),
        sparse_crc,
    };
    w.flush().map_err(io)?;
    drop(w);
    file.write_at(&header.encode(), 0).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs.rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    crate::fs::sync_dir(fs, dir)?;
    Segment::open(dir, file_no)
}

/// `std::io::Write` over a [`WriteFile`], for `BufWriter`.
struct Appender<'a>(&'a dyn WriteFile);

impl Write for Appender<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
