//! Found by the `segment_decode` fuzzer: a records section whose length
//! prefix claimed billions of elements made the decoder try to allocate
//! 3.6 GB. Decoding must fail cleanly, with allocation bounded by the input.

#[test]
fn huge_length_prefix_is_an_error_not_an_allocation() {
    let input: [u8; 29] = [
        0x20, 0x00, 0x12, 0xfc, 0x40, 0x4c, 0x19, 0xd9, 0xd9, 0xd9, 0xd9, 0xd9, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x11, 0x13, 0x17, 0x12, 0x0f, 0x00, 0x01, 0x80, 0x41,
    ];
    let image = chromite_engine::fuzzing::segment_with_records(input[0], input[1], &input[2..]);
    assert!(chromite_engine::fuzzing::segment_decode(&image).is_err());
}
