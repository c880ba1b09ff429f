//! The serial link of live learning (issue 11): the messages a host and a board exchange while
//! the board learns from samples it receives, and their framing on a byte stream.
//!
//! A frame is `COBS(len ‖ postcard(message) ‖ CRC-32(len ‖ postcard(message))) 0x00`: postcard
//! (serde's compact `no_std` format) serialises the message, `len` (u16, little endian) is its
//! length, so a frame cut short is told from a corrupt one, a CRC-32 (ISO-HDLC, the zlib/PNG CRC,
//! little endian) guards both, COBS removes every zero byte so that `0x00` delimits frames and a receiver
//! that joins mid-stream or loses bytes resynchronises at the next zero. [`encode`] writes one
//! frame; a [`Decoder`] takes bytes one at a time (e.g. from a UART interrupt) and answers each
//! complete frame as a message or a [`FrameError`] — never a panic, whatever the bytes.
//!
//! What a decoded [`ToBoard::Sample`] means (its feature count, finite values, class range) is
//! checked by the receiver against its model: see [`DropReason`] for every reason a board drops one.

#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

use crc::{Crc, CRC_32_ISO_HDLC};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// Most features a sample carries (MNIST 14×14 has 196).
pub const MAX_FEATURES: usize = 256;

/// Longest serialised message: a sample of [`MAX_FEATURES`] values (4 bytes each) plus its
/// variant tag, sequence number, class and length prefix (varints of at most 5 bytes each).
pub const MAX_MESSAGE: usize = 4 * MAX_FEATURES + 32;

/// Longest frame on the wire, delimiter excluded: COBS adds one byte per 254 and one more.
pub const MAX_FRAME: usize = max_cobs_len(MAX_MESSAGE + 6);

const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// COBS's worst-case length for `n` source bytes.
const fn max_cobs_len(n: usize) -> usize {
    n.saturating_add(n / 254).saturating_add(1)
}

/// Host → board.
// A sample is ~1 KiB and `End` a word: a board decodes one message at a time into a stack value
// and has no heap to box the large variant into.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToBoard {
    /// One labelled reading: the board predicts it, then learns from it.
    Sample {
        /// The host's sequence number (0, 1, …): the board's report names dropped ones by it.
        seq: u32,
        /// Class index `0..K` (binary: 0 is the `+1` class).
        class: u16,
        /// The raw reading, one value per feature.
        features: heapless::Vec<f32, MAX_FEATURES>,
    },
    /// The stream is over: report and stop.
    End {
        /// Samples the host sent.
        sent: u32,
    },
}

impl ToBoard {
    /// The sample message of a reading; `None` when it has more than [`MAX_FEATURES`] values.
    pub fn sample(seq: u32, class: u16, features: &[f32]) -> Option<ToBoard> {
        Some(ToBoard::Sample {
            seq,
            class,
            features: heapless::Vec::from_slice(features).ok()?,
        })
    }
}

/// Why a board dropped a frame or a sample. Each is counted in its [`Summary`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DropReason {
    /// The CRC did not match the frame's content.
    Checksum,
    /// The frame ended before its content did (its COBS structure or its CRC is cut off).
    Truncated,
    /// More bytes than [`MAX_FRAME`] before a delimiter.
    Oversized,
    /// The CRC matched but the content is no message.
    Malformed,
    /// A sample with another number of features than the model's.
    WrongLength,
    /// A sample with a NaN or infinite value.
    NonFinite,
    /// A sample whose class is not below the model's class count.
    BadClass,
}

/// The counts of every [`DropReason`] reason, in its order.
pub type DropCounts = [u32; 7];

impl DropReason {
    /// Every reason, in the order of [`DropCounts`].
    pub const ALL: [DropReason; 7] = [
        DropReason::Checksum,
        DropReason::Truncated,
        DropReason::Oversized,
        DropReason::Malformed,
        DropReason::WrongLength,
        DropReason::NonFinite,
        DropReason::BadClass,
    ];

    /// Position in [`DropCounts`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The reason in snake case, as reports spell it.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::Checksum => "checksum",
            DropReason::Truncated => "truncated",
            DropReason::Oversized => "oversized",
            DropReason::Malformed => "malformed",
            DropReason::WrongLength => "wrong_length",
            DropReason::NonFinite => "non_finite",
            DropReason::BadClass => "bad_class",
        }
    }
}

impl From<FrameError> for DropReason {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Checksum => DropReason::Checksum,
            FrameError::Truncated => DropReason::Truncated,
            FrameError::Oversized => DropReason::Oversized,
            FrameError::Malformed => DropReason::Malformed,
        }
    }
}

/// The board's end-of-stream summary.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Frames that decoded to a sample (valid or not).
    pub received: u32,
    /// Samples learned from.
    pub learned: u32,
    /// Drops by reason ([`DropReason::ALL`] order).
    pub dropped: DropCounts,
}

/// Board → host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToHost {
    /// The board is listening: its model's shape.
    Ready {
        /// Features per sample.
        features: u16,
        /// Classes.
        classes: u16,
        /// Samples the store holds.
        capacity: u32,
        /// Whether the board predicts with a model it loaded from its flash at boot (the last
        /// one it adopted before it was reset), rather than starting fresh.
        resumed: bool,
    },
    /// Prequential figures after `seen` samples.
    Checkpoint {
        /// Samples predicted so far.
        seen: u32,
        /// Of them, right by the Newton learner's adopted model.
        newton_correct: u32,
        /// Of them, right by PA-II.
        pa_correct: u32,
    },
    /// One retraining.
    Retrained {
        /// Samples seen when it ran.
        seen: u32,
        /// Samples it trained on.
        samples: u32,
        /// Its status's name (`converged`, …) or the error that refused it.
        status: heapless::String<24>,
        /// Newton iterations.
        iterations: u32,
        /// The board's counter over the retraining (instructions under QEMU, cycles on silicon).
        cost: u64,
        /// Whether its weights were adopted.
        adopted: bool,
    },
    /// A dropped frame or sample.
    Dropped {
        /// Why.
        reason: DropReason,
        /// The sample's sequence number, when it decoded.
        seq: Option<u32>,
    },
    /// The stream ended.
    Done(Summary),
}

/// Why a frame did not decode. Only the frame is lost: the decoder resynchronises at the next
/// delimiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// The CRC did not match.
    Checksum,
    /// The frame is shorter than its structure says (cut off).
    Truncated,
    /// More than [`MAX_FRAME`] bytes before a delimiter.
    Oversized,
    /// The CRC matched but postcard could not read a message.
    Malformed,
}

/// Why [`encode`] could not write a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferTooSmall;

/// Writes `message` as one frame, delimiter included, into `out`; returns its length. A buffer
/// of [`MAX_FRAME`]` + 1` bytes holds any frame of these messages.
pub fn encode<T: Serialize>(message: &T, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    encode_with(message, out, None)
}

/// A fault to build into a frame on purpose (`faults` feature): what a test or `tinynewton
/// stream --bad-frames` sends to check that a receiver drops it.
#[cfg(any(test, feature = "faults"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// One bit of the CRC flipped: the frame is whole, its check fails.
    Checksum,
    /// The last `k` bytes before the delimiter lost.
    Truncated(usize),
}

/// [`encode`] with a [`Fault`] built in.
#[cfg(any(test, feature = "faults"))]
pub fn encode_faulty<T: Serialize>(
    message: &T,
    out: &mut [u8],
    fault: Fault,
) -> Result<usize, BufferTooSmall> {
    encode_with(message, out, Some(fault))
}

/// Without the `faults` feature there are none.
#[cfg(not(any(test, feature = "faults")))]
#[derive(Clone, Copy)]
enum Fault {}

/// The bits a [`Fault::Checksum`] flips in the CRC (none otherwise).
fn crc_flip(fault: Option<Fault>) -> u32 {
    match fault {
        #[cfg(any(test, feature = "faults"))]
        Some(Fault::Checksum) => 1,
        _ => 0,
    }
}

/// The bytes a [`Fault::Truncated`] drops (none otherwise).
fn cut(fault: Option<Fault>) -> usize {
    match fault {
        #[cfg(any(test, feature = "faults"))]
        Some(Fault::Truncated(k)) => k,
        _ => 0,
    }
}

/// The frame body `len ‖ postcard ‖ crc`, COBS, delimiter; with `fault` applied.
fn encode_with<T: Serialize>(
    message: &T,
    out: &mut [u8],
    fault: Option<Fault>,
) -> Result<usize, BufferTooSmall> {
    let mut raw = [0u8; MAX_MESSAGE + 6];
    let len = postcard::to_slice(message, raw.get_mut(2..).ok_or(BufferTooSmall)?)
        .map_err(|_| BufferTooSmall)?
        .len();
    let declared = u16::try_from(len).map_err(|_| BufferTooSmall)?;
    raw.get_mut(..2)
        .ok_or(BufferTooSmall)?
        .copy_from_slice(&declared.to_le_bytes());
    let checked = len.checked_add(2).ok_or(BufferTooSmall)?;
    let crc = CRC32.checksum(raw.get(..checked).ok_or(BufferTooSmall)?) ^ crc_flip(fault);
    let end = checked.checked_add(4).ok_or(BufferTooSmall)?;
    raw.get_mut(checked..end)
        .ok_or(BufferTooSmall)?
        .copy_from_slice(&crc.to_le_bytes());
    let source = raw.get(..end).ok_or(BufferTooSmall)?;
    if out.len() <= max_cobs_len(end) {
        return Err(BufferTooSmall);
    }
    let n = cobs::encode(source, out).saturating_sub(cut(fault));
    *out.get_mut(n).ok_or(BufferTooSmall)? = 0;
    n.checked_add(1).ok_or(BufferTooSmall)
}

/// Reads frames from a byte stream, one byte at a time, into a fixed buffer of [`MAX_FRAME`]
/// bytes; see the crate docs.
pub struct Decoder {
    buf: [u8; MAX_FRAME],
    len: usize,
    overflow: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// An empty decoder.
    pub const fn new() -> Self {
        Self {
            buf: [0; MAX_FRAME],
            len: 0,
            overflow: false,
        }
    }

    /// Takes one byte; at a delimiter answers the frame it ended (`None` for an empty one,
    /// e.g. consecutive delimiters), otherwise `None`.
    pub fn push<T: DeserializeOwned>(&mut self, byte: u8) -> Option<Result<T, FrameError>> {
        if byte != 0 {
            match self.buf.get_mut(self.len) {
                Some(b) if !self.overflow => {
                    *b = byte;
                    self.len = self.len.saturating_add(1);
                }
                _ => self.overflow = true,
            }
            return None;
        }
        let (len, overflow) = (self.len, self.overflow);
        self.len = 0;
        self.overflow = false;
        if overflow {
            return Some(Err(FrameError::Oversized));
        }
        if len == 0 {
            return None;
        }
        Some(decode(self.buf.get_mut(..len).unwrap_or(&mut [])))
    }
}

/// Decodes one frame's bytes (delimiter excluded) in place: COBS, then the declared length
/// (shorter: cut off; longer: not a frame of ours), then the CRC, then postcard.
fn decode<T: DeserializeOwned>(frame: &mut [u8]) -> Result<T, FrameError> {
    // COBS's structure points past the end of a frame cut off inside a block.
    let n = cobs::decode_in_place(frame).map_err(|_| FrameError::Truncated)?;
    let body = frame.get(..n).ok_or(FrameError::Truncated)?;
    let (declared, rest) = body.split_first_chunk::<2>().ok_or(FrameError::Truncated)?;
    let len = usize::from(u16::from_le_bytes(*declared));
    let whole = len.checked_add(4).ok_or(FrameError::Malformed)?;
    if rest.len() < whole {
        return Err(FrameError::Truncated);
    }
    if rest.len() > whole {
        return Err(FrameError::Malformed);
    }
    let checked = len.checked_add(2).ok_or(FrameError::Malformed)?;
    let (content, crc) = body
        .split_at_checked(checked)
        .ok_or(FrameError::Truncated)?;
    let crc = u32::from_le_bytes(crc.try_into().map_err(|_| FrameError::Truncated)?);
    if CRC32.checksum(content) != crc {
        return Err(FrameError::Checksum);
    }
    postcard::from_bytes::<T>(content.get(2..).unwrap_or(&[])).map_err(|_| FrameError::Malformed)
}

#[cfg(test)]
mod tests;
