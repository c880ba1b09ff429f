use super::*;
use proptest::prelude::*;
use std::vec::Vec;

fn sample(seq: u32, class: u16, values: &[f32]) -> ToBoard {
    ToBoard::sample(seq, class, values).unwrap()
}

fn frame<T: Serialize>(m: &T) -> Vec<u8> {
    let mut out = [0u8; MAX_FRAME + 1];
    let n = encode(m, &mut out).unwrap();
    out[..n].to_vec()
}

/// Every answer the decoder gives for `bytes`.
fn feed<T: DeserializeOwned>(d: &mut Decoder, bytes: &[u8]) -> Vec<Result<T, FrameError>> {
    bytes.iter().filter_map(|&b| d.push::<T>(b)).collect()
}

#[test]
fn a_frame_has_one_zero_its_last_byte_and_decodes_to_the_message() {
    let m = sample(7, 1, &[0.0, 1.5, -2.25, f32::MIN_POSITIVE]);
    let f = frame(&m);
    assert_eq!(f.iter().filter(|&&b| b == 0).count(), 1);
    assert_eq!(f.last(), Some(&0));
    let mut d = Decoder::new();
    assert_eq!(feed::<ToBoard>(&mut d, &f), vec![Ok(m)]);
    // Host-bound messages too.
    let r = ToHost::Dropped {
        reason: DropReason::NonFinite,
        seq: Some(3),
    };
    assert_eq!(feed::<ToHost>(&mut d, &frame(&r)), vec![Ok(r)]);
}

#[test]
fn the_largest_sample_fits_the_frame_buffer() {
    let m = sample(u32::MAX, u16::MAX, &[f32::MAX; MAX_FEATURES]);
    let f = frame(&m);
    assert!(f.len() <= MAX_FRAME + 1);
    assert_eq!(feed::<ToBoard>(&mut Decoder::new(), &f), vec![Ok(m)]);
}

#[test]
fn each_kind_of_bad_frame_is_named_and_the_next_frame_decodes() {
    let next = sample(2, 1, &[4.0]);
    let mut d = Decoder::new();
    let faulty = |fault| {
        let mut out = [0u8; MAX_FRAME + 1];
        let n = encode_faulty(&sample(1, 0, &[1.0, 2.0, 3.0]), &mut out, fault).unwrap();
        out[..n].to_vec()
    };
    // A flipped CRC bit: the frame is whole, its check fails.
    let flipped = faulty(Fault::Checksum);
    // Cut off: the last bytes before the delimiter lost (1 to 10 of them, checked below too).
    let cut = faulty(Fault::Truncated(4));
    // Oversized: MAX_FRAME + 1 non-zero bytes.
    let mut long = vec![0x55u8; MAX_FRAME + 1];
    long.push(0);
    // A valid length and CRC over bytes that are no message (variant tag 9 does not exist).
    let mut junk = vec![3u8, 0, 9, 1, 2];
    junk.extend_from_slice(&CRC32.checksum(&junk).to_le_bytes());
    let mut junk_frame = vec![0u8; max_cobs_len(junk.len()) + 1];
    let n = cobs::encode(&junk, &mut junk_frame);
    junk_frame.truncate(n);
    junk_frame.push(0);
    for k in 1..=10 {
        let got = feed::<ToBoard>(&mut d, &faulty(Fault::Truncated(k)));
        assert_eq!(got, vec![Err(FrameError::Truncated)], "{k} bytes cut");
    }
    for (bytes, want) in [
        (&flipped, FrameError::Checksum),
        (&cut, FrameError::Truncated),
        (&long, FrameError::Oversized),
        (&junk_frame, FrameError::Malformed),
    ] {
        let mut stream = bytes.clone();
        stream.extend(frame(&next));
        let got = feed::<ToBoard>(&mut d, &stream);
        assert_eq!(got, vec![Err(want), Ok(next.clone())], "{want:?}");
    }
}

#[test]
fn a_receiver_joining_mid_frame_resynchronises_at_the_next_delimiter() {
    let a = frame(&sample(1, 0, &[1.0, 2.0]));
    let b = sample(2, 0, &[3.0]);
    let mut stream = a[a.len() / 2..].to_vec();
    stream.extend(frame(&b));
    let got = feed::<ToBoard>(&mut Decoder::new(), &stream);
    assert_eq!(got.len(), 2);
    assert!(got[0].is_err());
    assert_eq!(got[1], Ok(b));
}

#[test]
fn empty_frames_are_skipped_and_small_buffers_refused() {
    assert_eq!(feed::<ToBoard>(&mut Decoder::new(), &[0, 0, 0]), vec![]);
    let mut small = [0u8; 4];
    assert_eq!(
        encode(&sample(1, 0, &[1.0, 2.0]), &mut small),
        Err(BufferTooSmall)
    );
}

#[test]
fn drop_reasons_index_their_counts() {
    for (i, r) in DropReason::ALL.iter().enumerate() {
        assert_eq!(r.index(), i);
    }
    assert_eq!(
        DropReason::from(FrameError::Truncated),
        DropReason::Truncated
    );
}

proptest! {
    // Any bytes: the decoder answers errors or messages, never panics, and its buffer never
    // holds more than one frame.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut d = Decoder::new();
        for b in bytes {
            let _ = d.push::<ToBoard>(b);
            let _ = d.push::<ToHost>(b.rotate_left(3));
        }
    }

    // Any sample survives the round trip bit for bit (NaN payloads included).
    #[test]
    fn samples_round_trip(
        seq in any::<u32>(),
        class in any::<u16>(),
        bits in proptest::collection::vec(any::<u32>(), 0..=MAX_FEATURES),
    ) {
        let values: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
        let m = sample(seq, class, &values);
        let got = feed::<ToBoard>(&mut Decoder::new(), &frame(&m));
        prop_assert_eq!(got.len(), 1);
        match &got[0] {
            Ok(ToBoard::Sample { seq: s, class: c, features }) => {
                prop_assert_eq!((*s, *c), (seq, class));
                let back: Vec<u32> = features.iter().map(|v| v.to_bits()).collect();
                prop_assert_eq!(back, bits);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    // Corrupting any one byte of a frame (not into a delimiter) never yields a wrong message:
    // an error, or (a flip CRC-32 cannot miss) nothing else.
    #[test]
    fn one_corrupt_byte_is_caught(at in 0usize..64, flip in 1u8..=255) {
        let m = sample(5, 1, &[1.0, -1.0, 0.5, 8.0, 3.0, 2.0, 1.0, 0.0, 9.0, 7.0, 6.0, 5.0]);
        let mut f = frame(&m);
        let at = at % (f.len() - 1);
        f[at] ^= flip;
        prop_assume!(f[at] != 0);
        let got = feed::<ToBoard>(&mut Decoder::new(), &f);
        prop_assert_eq!(got.len(), 1);
        prop_assert!(got[0].is_err());
    }
}
