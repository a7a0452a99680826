//! Arbitrary bytes -> the segment file checks (header, section bounds,
//! both checksums, records-section decode) and the manifest decoder. A
//! damaged file must give an error, never a panic.
//!
//! Raw bytes almost never pass the header checksum, so the input is also
//! wrapped as the records section of a well-formed segment (valid header and
//! checksums) to drive the bincode records decoder directly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = chromite_engine::fuzzing::segment_decode(data);
    let _ = chromite_engine::fuzzing::manifest_decode(data);
    if let [rows, dim, rest @ ..] = data {
        let image = chromite_engine::fuzzing::segment_with_records(*rows, *dim, rest);
        let _ = chromite_engine::fuzzing::segment_decode(&image);
    }
});
