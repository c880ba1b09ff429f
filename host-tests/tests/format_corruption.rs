//! Corruption of a committed file: every header byte, a few hundred payload bytes, every
//! truncation. Each must give `Err` from `parse`, never a panic and never `Ok`.
//!
//! Flips use the smallest committed file (7x7 u8 test split, 14 714 bytes in the sparse row
//! layout; the sealed mutations of its offsets, indices and codes are in `fuzz_no_panic.rs`);
//! truncation runs at
//! every length of all six committed files (≈ 760 000 parses, well under a second in a debug build:
//! a truncated buffer fails on its length before the payload CRC is computed).

use tinynewton::format::{self, FormatError, HEADER_LEN};

static FILE: &[u8] = tinynewton::include_packed!("../../data/mnist-7v1-7x7-u8-test.tnds");

/// SplitMix64, for reproducible corruption positions.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn the_pristine_file_parses() {
    assert!(format::parse(FILE).is_ok());
    // Sparse rows: 64 + 440 label bytes, then 441 four-byte row offsets and 6 223 (index, code)
    // byte pairs.
    assert_eq!(FILE.len(), 14_714);
}

#[test]
fn every_header_byte_and_bit_flip_is_refused() {
    let mut bad = FILE.to_vec();
    for at in 0..HEADER_LEN {
        // The whole byte, then each single bit.
        for mask in [0xFF, 1, 2, 4, 8, 16, 32, 64, 128] {
            bad[at] ^= mask;
            assert!(
                format::parse(&bad).is_err(),
                "byte {at} ^ {mask:#04x} accepted"
            );
            bad[at] ^= mask;
        }
    }
    assert_eq!(bad, FILE);
}

#[test]
fn payload_byte_flips_are_refused_by_the_crc() {
    let mut bad = FILE.to_vec();
    let mut state = 0x7E57_u64;
    let body = FILE.len() - HEADER_LEN;
    for _ in 0..400 {
        let at = HEADER_LEN + (splitmix64(&mut state) % body as u64) as usize;
        let mask = (splitmix64(&mut state) % 255 + 1) as u8; // never 0: a real change
        bad[at] ^= mask;
        assert_eq!(
            format::parse(&bad).unwrap_err(),
            FormatError::PayloadCrc,
            "byte {at}"
        );
        bad[at] ^= mask;
    }
    // Every label byte too (they come first in the body): CRC-32 catches any single-byte change.
    for at in HEADER_LEN..HEADER_LEN + 440 {
        bad[at] ^= 0x80;
        assert_eq!(format::parse(&bad).unwrap_err(), FormatError::PayloadCrc);
        bad[at] ^= 0x80;
    }
}

#[test]
fn every_truncation_and_an_extension_are_refused() {
    for len in 0..FILE.len() {
        assert!(
            format::parse(&FILE[..len]).is_err(),
            "prefix of {len} bytes accepted"
        );
    }
    let mut longer = FILE.to_vec();
    longer.push(0);
    assert_eq!(
        format::parse(&longer).unwrap_err(),
        FormatError::LengthMismatch
    );
}
