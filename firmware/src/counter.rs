//! The board's clock for measurements: an instruction counter under emulation, a cycle counter on
//! silicon. Not in embedded-hal 1.0, hence a trait of our own.

/// A monotonic 64-bit clock that measures executed instructions (emulated) or core cycles
/// (real board).
pub trait Counter {
    /// Name of one count as it appears in the result lines: `instructions` or `cycles`.
    const UNIT: &'static str;

    /// Current reading in the clock's raw ticks. Monotonic; consecutive calls must be less
    /// than one hardware wrap apart where the implementation extends a narrower counter in
    /// software (documented there).
    fn now(&mut self) -> u64;

    /// `UNIT`s between two readings of `now` (`start ≤ end`). Convert differences, never
    /// absolute readings: a conversion that rounds is then exact for every interval, whatever
    /// the clock's phase (see the QEMU board).
    fn elapsed(&self, start: u64, end: u64) -> u64;
}

/// Extends a free-running 32-bit up-counter (DWT CYCCNT) to 64 bits in software.
///
/// Correct as long as `now` is called at least once per 2^32 counts (43 s at 100 MHz); the app
/// reads it at every Newton iteration, which is far more often.
#[cfg(any(feature = "stm32f411", feature = "nrf52840"))]
pub struct Dwt64 {
    last: u32,
    high: u64,
}

#[cfg(any(feature = "stm32f411", feature = "nrf52840"))]
impl Dwt64 {
    /// Enables the trace unit and the cycle counter, then starts counting from its current value.
    pub fn new(mut dcb: cortex_m::peripheral::DCB, mut dwt: cortex_m::peripheral::DWT) -> Self {
        dcb.enable_trace();
        cortex_m::peripheral::DWT::unlock();
        dwt.enable_cycle_counter();
        Self {
            last: cortex_m::peripheral::DWT::cycle_count(),
            high: 0,
        }
    }
}

#[cfg(any(feature = "stm32f411", feature = "nrf52840"))]
impl Counter for Dwt64 {
    const UNIT: &'static str = "cycles";

    fn now(&mut self) -> u64 {
        let now = cortex_m::peripheral::DWT::cycle_count();
        if now < self.last {
            self.high += 1 << 32;
        }
        self.last = now;
        self.high | u64::from(now)
    }

    fn elapsed(&self, start: u64, end: u64) -> u64 {
        end - start
    }
}
