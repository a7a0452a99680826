//! Arbitrary bytes -> the WAL decoders (file header + CRC-framed bincode
//! batches, and a bare frame). Recovery runs these on whatever a crash or a
//! disk left behind: they must return an error or a prefix, never panic,
//! and never allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = chromite_engine::fuzzing::wal_frame(data);
    // As a whole file, with and without a valid header in front.
    let _ = chromite_engine::fuzzing::wal_record(data);
    let mut file = b"CHRMWAL1\x01\x00\x00\x00".to_vec();
    file.extend_from_slice(data);
    let _ = chromite_engine::fuzzing::wal_record(&file);
});
