//! Entry points for the fuzz targets (`fuzz/`): feed arbitrary bytes to the
//! on-disk decoders. Each returns an error for bad input and must never
//! panic.

/// Parses bytes as a WAL file (header + frames); returns how many batches
/// decoded before the end or the first bad frame.
pub fn wal_record(bytes: &[u8]) -> Result<usize, String> {
    crate::journal::reader::parse(bytes).map(|(batches, _, _)| batches.len())
}

/// Parses bytes as a single WAL frame.
pub fn wal_frame(bytes: &[u8]) -> bool {
    matches!(
        crate::codec::decode_frame::<crate::journal::WalBatch>(bytes),
        crate::codec::Frame::Batch(..)
    )
}

/// Checks bytes as a whole segment file; returns the number of rows.
pub fn segment_decode(bytes: &[u8]) -> Result<usize, String> {
    crate::segment::check_bytes(bytes)
}

/// Parses bytes as a manifest.
pub fn manifest_decode(bytes: &[u8]) -> bool {
    crate::catalog::manifest::Manifest::decode(bytes).is_ok()
}

/// Wraps `records` as the records section of a well-formed segment image
/// (valid header and checksums, `rows` zero vectors of `dim` floats), so a
/// fuzzer reaches the records-section decoder past the checksums.
pub fn segment_with_records(rows: u8, dim: u8, records: &[u8]) -> Vec<u8> {
    use crate::segment::{Header, HEADER_LEN};
    let (rows, dim) = (u64::from(rows % 64), u32::from(dim % 8));
    let vectors = vec![0u8; (rows * u64::from(dim) * 4) as usize];
    let header = Header {
        dim,
        rows,
        vectors_offset: HEADER_LEN as u64,
        records_offset: HEADER_LEN as u64 + vectors.len() as u64,
        records_len: records.len() as u64,
        vectors_crc: crc32fast::hash(&vectors),
        records_crc: crc32fast::hash(records),
        sparse_crc: 0,
    };
    let mut out = header.encode().to_vec();
    out.extend_from_slice(&vectors);
    out.extend_from_slice(records);
    out
}
