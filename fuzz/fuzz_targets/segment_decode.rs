//! Arbitrary bytes -> the segment file checks (header, section bounds,
//! both checksums, records-section decode) and the manifest decoder. A
//! damaged file must give an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = chromite_engine::fuzzing::segment_decode(data);
    let _ = chromite_engine::fuzzing::manifest_decode(data);
});
