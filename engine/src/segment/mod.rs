//! Immutable segments: what a memtable flush or a compaction writes.
//!
//! One file per segment, `seg-NNNNNNNNNNNNNNNNNNNN.seg`, never modified after
//! it is renamed into place. Layout (integers little-endian):
//!
//! ```text
//! offset size  field
//!  0      8    magic "CHRMSEG1"
//!  8      4    format version (3; 1 and 2 still open: 2 is 3 without a
//!              sparse section, 1 is 2 without sparse-vector values)
//! 12      4    dim: floats per vector
//! 16      8    rows: live records in the segment
//! 24      8    vectors_offset (= 64)
//! 32      8    records_offset (= vectors_offset + rows * dim * 4)
//! 40      8    records_len
//! 48      4    crc32 of the vector column
//! 52      4    crc32 of the records section
//! 56      4    crc32 of the sparse section's header and directory (0 when
//!              the file has no sparse section; always 0 before version 3)
//! 60      4    crc32 of bytes 0..60
//! 64           vector column: rows * dim little-endian f32, row-major
//! records_offset  records section: bincode `SegmentRecords` (ids, order
//!              keys, documents, metadata, uris — one entry per row, rows
//!              sorted by order key — and the tombstone ids)
//! S            sparse section (version 3, optional): S = records end
//!              rounded up to 8; the rest of the file. The posting lists of
//!              the sparse keys the schema indexes (`sparse/section.rs`)
//! ```
//!
//! The file is memory-mapped; the vector column is used in place as `&[f32]`
//! (no copy). Opening reads only the header. The records section is decoded
//! and checked on first use; the vector column's checksum is verified once,
//! on first use.

pub(crate) mod reader;
pub(crate) mod records;
pub(crate) mod writer;

pub(crate) use reader::Segment;

use std::path::{Path, PathBuf};

#[cfg(target_endian = "big")]
compile_error!("segment files store little-endian f32 columns that are used in place; big-endian hosts are unsupported");

/// Magic number at the start of a segment file.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"CHRMSEG1";
/// Current segment format version. Version 3 may end with a sparse
/// section; version 2 may hold sparse-vector metadata values (codec tag
/// 8); version 1 holds neither. All three open.
pub(crate) const SEGMENT_VERSION: u32 = 3;
/// Header size; also where the vector column starts.
pub(crate) const HEADER_LEN: usize = 64;

const DIM_OFFSET: usize = 12;
const ROWS_OFFSET: usize = DIM_OFFSET + 4;
const VECTORS_OFFSET_OFFSET: usize = ROWS_OFFSET + 8;
const RECORDS_OFFSET_OFFSET: usize = VECTORS_OFFSET_OFFSET + 8;
const RECORDS_LEN_OFFSET: usize = RECORDS_OFFSET_OFFSET + 8;
const VECTORS_CRC_OFFSET: usize = RECORDS_LEN_OFFSET + 8;
const RECORDS_CRC_OFFSET: usize = VECTORS_CRC_OFFSET + 4;
const SPARSE_CRC_OFFSET: usize = RECORDS_CRC_OFFSET + 4;
const HEADER_CRC_OFFSET: usize = SPARSE_CRC_OFFSET + 4;

/// The parsed fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) dim: u32,
    pub(crate) rows: u64,
    pub(crate) vectors_offset: u64,
    pub(crate) records_offset: u64,
    pub(crate) records_len: u64,
    pub(crate) vectors_crc: u32,
    pub(crate) records_crc: u32,
    /// The sparse section's checksum (`sparse/section.rs`), 0 without one.
    pub(crate) sparse_crc: u32,
}

impl Header {
    /// Where the records section ends.
    pub(crate) fn records_end(&self) -> u64 {
        self.records_offset + self.records_len
    }

    /// Where a sparse section would start.
    pub(crate) fn sparse_offset(&self) -> u64 {
        self.records_end().next_multiple_of(8)
    }
}

impl Header {
    /// Serialises the header (with its own checksum).
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..8].copy_from_slice(SEGMENT_MAGIC);
        h[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
        h[DIM_OFFSET..DIM_OFFSET + 4].copy_from_slice(&self.dim.to_le_bytes());
        h[ROWS_OFFSET..ROWS_OFFSET + 8].copy_from_slice(&self.rows.to_le_bytes());
        h[VECTORS_OFFSET_OFFSET..VECTORS_OFFSET_OFFSET + 8]
            .copy_from_slice(&self.vectors_offset.to_le_bytes());
        h[RECORDS_OFFSET_OFFSET..RECORDS_OFFSET_OFFSET + 8]
            .copy_from_slice(&self.records_offset.to_le_bytes());
        h[RECORDS_LEN_OFFSET..RECORDS_LEN_OFFSET + 8]
            .copy_from_slice(&self.records_len.to_le_bytes());
        h[VECTORS_CRC_OFFSET..VECTORS_CRC_OFFSET + 4]
            .copy_from_slice(&self.vectors_crc.to_le_bytes());
        h[RECORDS_CRC_OFFSET..RECORDS_CRC_OFFSET + 4]
            .copy_from_slice(&self.records_crc.to_le_bytes());
        h[SPARSE_CRC_OFFSET..SPARSE_CRC_OFFSET + 4].copy_from_slice(&self.sparse_crc.to_le_bytes());
        let crc = crc32fast::hash(&h[..HEADER_CRC_OFFSET]);
        h[HEADER_CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// Parses and checks a header against the file length.
    pub(crate) fn decode(bytes: &[u8], file_len: u64) -> Result<Header, String> {
        use crate::codec::{u32_at, u64_at};
        if bytes.len() < HEADER_LEN {
            return Err(format!(
                "file is {} bytes, shorter than the {HEADER_LEN}-byte header",
                bytes.len()
            ));
        }
        if &bytes[..8] != SEGMENT_MAGIC {
            return Err("bad magic number".into());
        }
        if crc32fast::hash(&bytes[..HEADER_CRC_OFFSET]) != u32_at(bytes, HEADER_CRC_OFFSET) {
            return Err("header checksum mismatch".into());
        }
        let version = u32_at(bytes, 8);
        if !(1..=SEGMENT_VERSION).contains(&version) {
            return Err(format!("unsupported segment version {version}"));
        }
        let h = Header {
            dim: u32_at(bytes, DIM_OFFSET),
            rows: u64_at(bytes, ROWS_OFFSET),
            vectors_offset: u64_at(bytes, VECTORS_OFFSET_OFFSET),
            records_offset: u64_at(bytes, RECORDS_OFFSET_OFFSET),
            records_len: u64_at(bytes, RECORDS_LEN_OFFSET),
            vectors_crc: u32_at(bytes, VECTORS_CRC_OFFSET),
            records_crc: u32_at(bytes, RECORDS_CRC_OFFSET),
            sparse_crc: u32_at(bytes, SPARSE_CRC_OFFSET),
        };
        let vec_bytes = h
            .rows
            .checked_mul(h.dim as u64)
            .and_then(|n| n.checked_mul(4))
            .ok_or("vector column size overflows")?;
        if h.vectors_offset != HEADER_LEN as u64
            || h.vectors_offset.checked_add(vec_bytes) != Some(h.records_offset)
        {
            return Err("inconsistent section offsets".into());
        }
        let records_end = h
            .records_offset
            .checked_add(h.records_len)
            .ok_or("records section size overflows")?;
        // Version 3 may end with a sparse section after the records.
        let sparse_ok = version >= 3 && file_len > records_end && {
            file_len >= records_end.next_multiple_of(8) + 24
        };
        if records_end != file_len && !sparse_ok {
            return Err(format!(
                "file is {file_len} bytes but the header describes {records_end}"
            ));
        }
        Ok(h)
    }
}

/// The path of segment `no` in `dir`.
pub(crate) fn path(dir: &Path, no: u64) -> PathBuf {
    dir.join(format!("seg-{no:020}.seg"))
}

/// Parses a segment file name back into its number.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    name.strip_prefix("seg-")?
        .strip_suffix(".seg")?
        .parse()
        .ok()
}

/// Checks a whole segment image (header, both checksums, records decode);
/// used by the `segment_decode` fuzz target and by tests.
pub fn check_bytes(bytes: &[u8]) -> Result<usize, String> {
    let h = Header::decode(bytes, bytes.len() as u64)?;
    let vectors = &bytes[h.vectors_offset as usize..h.records_offset as usize];
    if crc32fast::hash(vectors) != h.vectors_crc {
        return Err("vector column checksum mismatch".into());
    }
    let recs = &bytes[h.records_offset as usize..h.records_end() as usize];
    if crc32fast::hash(recs) != h.records_crc {
        return Err("records section checksum mismatch".into());
    }
    let r = records::SegmentRecords::decode(recs, h.rows)?;
    if h.records_end() < bytes.len() as u64 {
        let sparse = &bytes[h.sparse_offset() as usize..];
        let s = crate::sparse::SparseSection::decode(sparse, h.sparse_crc)?;
        s.check_all(sparse)?;
    }
    Ok(r.ids.len())
}
