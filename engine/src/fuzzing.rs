//! Entry points for the fuzz targets (`fuzz/`): feed arbitrary bytes to the
//! on-disk decoders. Each returns an error for bad input and must never
//! panic.

/// Parses bytes as a WAL file (header + frames); returns how many batches
/// decoded before the end or the first bad frame.
pub fn wal_record(bytes: &[u8]) -> Result<usize, String> {
    crate::wal::reader::parse(bytes).map(|(batches, _, _)| batches.len())
}

/// Parses bytes as a single WAL frame.
pub fn wal_frame(bytes: &[u8]) -> bool {
    matches!(crate::codec::decode_frame(bytes), crate::codec::Frame::Batch(..))
}

/// Checks bytes as a whole segment file; returns the number of rows.
pub fn segment_decode(bytes: &[u8]) -> Result<usize, String> {
    crate::segment::check_bytes(bytes)
}

/// Parses bytes as a manifest.
pub fn manifest_decode(bytes: &[u8]) -> bool {
    crate::catalog::manifest::Manifest::decode(bytes).is_ok()
}
