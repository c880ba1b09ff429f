//! A NOR flash in RAM, with power cuts on demand.
//!
//! NOR's rules are kept: reads anywhere in range; writes of whole aligned words that can only
//! clear bits (`stored &= written`: programming cannot set a bit back to 1); erases of whole
//! aligned pages that set every byte to `0xFF`. Every word written and every page erased is one
//! *step*. With [`RamFlash::cut_after`]`(k)` the power fails during step `k + 1`: a word is left
//! half-programmed (its first half written), a page half-erased (its first half `0xFF`), the
//! operation answers [`FlashError::PowerCut`] and so does every later one, until
//! [`RamFlash::restart`] (a reboot: the bytes stay as the cut left them).

use embedded_storage_async::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Bytes a write programs at once.
pub const WORD: usize = 4;

/// Why a flash operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FlashError {
    /// Outside the flash.
    OutOfBounds,
    /// Not aligned to a word (write) or a page (erase).
    NotAligned,
    /// The power failed during this operation or an earlier one.
    PowerCut,
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            FlashError::NotAligned => NorFlashErrorKind::NotAligned,
            FlashError::PowerCut => NorFlashErrorKind::Other,
        }
    }
}

/// `BYTES` bytes of NOR flash in pages of `PAGE` bytes (both multiples of [`WORD`]), erased.
#[derive(Clone, Debug)]
pub struct RamFlash<const BYTES: usize, const PAGE: usize> {
    bytes: [u8; BYTES],
    steps: u64,
    cut: Option<u64>,
    dead: bool,
}

impl<const BYTES: usize, const PAGE: usize> Default for RamFlash<BYTES, PAGE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const BYTES: usize, const PAGE: usize> RamFlash<BYTES, PAGE> {
    /// Erased flash (every byte `0xFF`), power on, no cut planned.
    pub const fn new() -> Self {
        Self {
            bytes: [0xFF; BYTES],
            steps: 0,
            cut: None,
            dead: false,
        }
    }

    /// The flash's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Write and erase steps taken since power-on (or the last [`restart`](Self::restart)).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Plans a power cut: `k` more steps complete, the next one is cut.
    pub fn cut_after(&mut self, k: u64) {
        self.cut = Some(self.steps.saturating_add(k));
    }

    /// A reboot after a cut: power back on, the bytes as they were left, no cut planned.
    pub fn restart(&mut self) {
        self.dead = false;
        self.cut = None;
        self.steps = 0;
    }

    /// Whether the power is off (a cut happened and no restart since).
    pub fn is_cut(&self) -> bool {
        self.dead
    }

    /// Takes one step; `false` when the power fails during it (and from then on).
    fn step(&mut self) -> bool {
        if self.dead {
            return false;
        }
        if self.cut == Some(self.steps) {
            self.dead = true;
            return false;
        }
        self.steps = self.steps.saturating_add(1);
        true
    }

    fn range(&self, offset: u32, len: usize) -> Result<core::ops::Range<usize>, FlashError> {
        let start = usize::try_from(offset).map_err(|_| FlashError::OutOfBounds)?;
        let end = start.checked_add(len).ok_or(FlashError::OutOfBounds)?;
        if end > BYTES {
            return Err(FlashError::OutOfBounds);
        }
        Ok(start..end)
    }
}

impl<const BYTES: usize, const PAGE: usize> ErrorType for RamFlash<BYTES, PAGE> {
    type Error = FlashError;
}

impl<const BYTES: usize, const PAGE: usize> ReadNorFlash for RamFlash<BYTES, PAGE> {
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), FlashError> {
        if self.dead {
            return Err(FlashError::PowerCut);
        }
        let r = self.range(offset, out.len())?;
        out.copy_from_slice(self.bytes.get(r).ok_or(FlashError::OutOfBounds)?);
        Ok(())
    }

    fn capacity(&self) -> usize {
        BYTES
    }
}

impl<const BYTES: usize, const PAGE: usize> NorFlash for RamFlash<BYTES, PAGE> {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = PAGE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        if self.dead {
            return Err(FlashError::PowerCut);
        }
        let len = usize::try_from(to.checked_sub(from).ok_or(FlashError::OutOfBounds)?)
            .map_err(|_| FlashError::OutOfBounds)?;
        let r = self.range(from, len)?;
        if !r.start.is_multiple_of(PAGE) || !len.is_multiple_of(PAGE) {
            return Err(FlashError::NotAligned);
        }
        let mut at = r.start;
        while at < r.end {
            let whole = self.step();
            let end = at.saturating_add(if whole { PAGE } else { PAGE / 2 });
            if let Some(page) = self.bytes.get_mut(at..end) {
                page.fill(0xFF);
            }
            if !whole {
                return Err(FlashError::PowerCut);
            }
            at = at.saturating_add(PAGE);
        }
        Ok(())
    }

    async fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
        if self.dead {
            return Err(FlashError::PowerCut);
        }
        let r = self.range(offset, data.len())?;
        if !r.start.is_multiple_of(WORD) || !data.len().is_multiple_of(WORD) {
            return Err(FlashError::NotAligned);
        }
        for (k, word) in data.chunks_exact(WORD).enumerate() {
            let whole = self.step();
            let at = r.start.saturating_add(k.saturating_mul(WORD));
            let n = if whole { WORD } else { WORD / 2 };
            if let Some(dst) = self.bytes.get_mut(at..at.saturating_add(n)) {
                for (d, s) in dst.iter_mut().zip(word) {
                    *d &= *s;
                }
            }
            if !whole {
                return Err(FlashError::PowerCut);
            }
        }
        Ok(())
    }
}
