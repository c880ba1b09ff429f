//! The emulated STM32F405 (QEMU `netduinoplus2`).
//!
//! QEMU models only the core peripherals faithfully (a HAL's clock setup would hang), so this
//! board uses none of the STM32 peripherals: SysTick is the clock, the LED is a pin that only
//! remembers its state, and defmt frames leave through semihosting.
//!
//! Instruction counting: under `-icount shift=10,align=off` virtual time advances exactly
//! 2^10 ns per guest instruction, and SysTick on the processor clock ticks at 168 MHz of that
//! virtual time, so `instructions = ticks · 1e9 / (168e6 · 2^10) = ticks · 125 / 21504`.
//! SysTick is 24 bits wide; its exception counts the wraps.

use core::convert::Infallible;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SCB, SYST};
use cortex_m_rt::exception;
use defmt_semihosting as _;

use crate::counter::Counter;

pub mod usart;

/// Printed in the banner.
pub const NAME: &str = "STM32F405 (QEMU netduinoplus2)";

/// SysTick reload: the full 24-bit range, so the wrap exception is rare (every 2^24 ticks).
const RELOAD: u32 = 0x00FF_FFFF;

/// Number of SysTick wraps since `init`.
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// SysTick ticks (168 MHz of virtual time) since `init`, extended to 64 bits.
pub(crate) fn ticks() -> u64 {
    cortex_m::interrupt::free(|_| {
        let mut wraps = WRAPS.load(Ordering::Relaxed);
        let mut current = SYST::get_current();
        // With interrupts masked a wrap may have happened without its exception having run
        // yet: count it here and re-read the (reloaded) current value after it.
        if SCB::is_pendst_pending() {
            wraps += 1;
            current = SYST::get_current();
        }
        u64::from(wraps) * u64::from(RELOAD + 1) + u64::from(RELOAD - current)
    })
}

/// The wrap handler's own time, as SysTick ticks per wrap: a whole part and a fraction in 125ths
/// (one instruction is 172.032 ticks), measured by [`calibrate_wrap`]; 0 until then.
static WRAP_WHOLE: AtomicU32 = AtomicU32::new(0);
static WRAP_FRACTION: AtomicU32 = AtomicU32::new(0);

/// Ticks the SysTick wrap handler has taken since `init` (within a tick of exact; 0 until
/// [`calibrate_wrap`] has run). Constant instructions whatever the count (a multiply and a
/// hardware division), so that a clock reading that calls it costs the same every time.
pub(crate) fn wrap_handler_ticks() -> u64 {
    let wraps = WRAPS.load(Ordering::Relaxed);
    u64::from(wraps) * u64::from(WRAP_WHOLE.load(Ordering::Relaxed))
        + u64::from(wraps * WRAP_FRACTION.load(Ordering::Relaxed) / 125)
}

/// Two SysTick readings around a write of `value` to the SCB's ICSR: 0 changes nothing,
/// PENDSTSET runs the wrap handler; the instructions here are the same either way. DSB + ISB:
/// the pend takes effect before the second reading.
#[inline(never)]
fn probe_icsr(value: u32) -> u64 {
    let before = ticks();
    // SAFETY: ICSR's writable bits only pend or un-pend exceptions: 0 does neither, PENDSTSET
    // pends SysTick, whose handler only counts a wrap (taken back by `calibrate_wrap`).
    unsafe { (*SCB::PTR).icsr.write(value) };
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
    ticks() - before
}

/// Measures the SysTick wrap handler's instructions, entry and exit included: [`probe_icsr`]
/// without and with a pended SysTick exception; the difference, less the 2^24 ticks of the wrap
/// the handler counts (and which is then taken back), is the handler. Deterministic (it runs
/// before any input). Afterwards [`wrap_handler_ticks`] counts them, so that the live app can
/// leave out of its figures a handler that runs once every 97 523 instructions at a point that
/// depends on the host's timing (it moved a sample's cost by 10 instructions, run to run).
/// `None` (and nothing counted) if the figure is not plausible.
pub(crate) fn calibrate_wrap() -> Option<u32> {
    let quiet = probe_icsr(0);
    let loud = probe_icsr(1 << 26);
    // The handler counted a wrap that did not happen.
    WRAPS.fetch_sub(1, Ordering::Relaxed);
    let spent = loud
        .checked_sub(quiet)?
        .checked_sub(u64::from(RELOAD) + 1)?;
    let n = u32::try_from(instructions(spent))
        .ok()
        .filter(|&n| n < 1000)?;
    let (whole, fraction) = ticks_of(n);
    WRAP_WHOLE.store(u32::try_from(whole).ok()?, Ordering::Relaxed);
    WRAP_FRACTION.store(fraction, Ordering::Relaxed);
    Some(n)
}

/// Guest instructions derived from SysTick under `-icount shift=10`.
pub struct InstructionCounter {
    _private: (),
}

impl Counter for InstructionCounter {
    const UNIT: &'static str = "instructions";

    /// Raw SysTick ticks.
    fn now(&mut self) -> u64 {
        ticks()
    }

    /// `Δticks · 1e9 / (168e6 · 2^10) = Δticks · 125 / 21504` (exact ratio), rounded to the
    /// nearest instruction. One instruction is 172.03 ticks and a reading is off by less than
    /// one tick, so the rounded difference is the exact instruction count of the interval. (Flooring
    /// absolute readings instead made an interval's count depend on the clock's phase at its
    /// two ends: two runs of one ELF were seen to differ by one instruction per interval.)
    fn elapsed(&self, start: u64, end: u64) -> u64 {
        instructions(end - start)
    }
}

/// SysTick ticks per guest instruction under `-icount shift=10` as a fraction,
/// `TICKS_PER_INSTRUCTION.0 / TICKS_PER_INSTRUCTION.1` = 21504/125 = 172.032.
const TICKS_PER_INSTRUCTION: (u32, u32) = (21504, 125);

/// Instructions in an interval of `ticks`, rounded to the nearest (see `elapsed`).
pub(crate) fn instructions(ticks: u64) -> u64 {
    let (num, den) = TICKS_PER_INSTRUCTION;
    (ticks * u64::from(den) + u64::from(num / 2)) / u64::from(num)
}

/// The ticks of `n` instructions as a whole part and a fraction in 125ths (what the handlers'
/// own times are kept as: their sum over many runs stays within a tick of exact).
pub(crate) fn ticks_of(n: u32) -> (u64, u32) {
    let (num, den) = TICKS_PER_INSTRUCTION;
    let ticks = u64::from(n) * u64::from(num);
    (ticks / u64::from(den), (ticks % u64::from(den)) as u32)
}

/// `DelayNs` by busy-waiting on SysTick (168 ticks per µs of virtual time).
pub struct Delay {
    _private: (),
}

impl embedded_hal::delay::DelayNs for Delay {
    fn delay_ns(&mut self, ns: u32) {
        // 168 MHz: 0.168 ticks per ns = 21/125.
        let until = ticks() + (u64::from(ns) * 21).div_ceil(125);
        while ticks() < until {}
    }
}

/// The status LED: the emulated board has none, so the pin only keeps its level (the app logs
/// how often it toggled).
pub struct Led {
    high: bool,
}

impl embedded_hal::digital::ErrorType for Led {
    type Error = Infallible;
}

impl embedded_hal::digital::OutputPin for Led {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.high = false;
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        self.high = true;
        Ok(())
    }
}

/// What the app needs from the board.
pub struct Board {
    /// Status LED (no-op pin).
    pub led: Led,
    /// Busy-wait delay on SysTick.
    pub delay: Delay,
    /// Instruction counter.
    pub counter: InstructionCounter,
}

/// Starts SysTick on the processor clock with the full reload and its wrap exception.
pub fn init() -> Board {
    // `take` is `None` only on a second call; `init` runs once, from `main`.
    let Some(cp) = cortex_m::Peripherals::take() else {
        crate::fail("core peripherals already taken");
    };
    let mut syst = cp.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    Board {
        led: Led { high: false },
        delay: Delay { _private: () },
        counter: InstructionCounter { _private: () },
    }
}

// ---------------------------------------------------------------------------------------------
// The live app's board interface, as the real boards export it (board/mod.rs).

/// The serial receive queue: counters and the interrupt's time.
pub mod serial {
    pub use super::super::rx_queue::{stats, RxStats, QUEUE_BYTES, QUEUE_CAPACITY};

    /// Ticks that interrupts took from the live app since boot: the receive interrupt's
    /// (`rx_queue::isr_ticks`, its entry and exit included) and the SysTick wrap handler's
    /// ([`wrap_handler_ticks`](super::wrap_handler_ticks)), both of which run at points that
    /// depend on when the host's bytes arrive.
    pub fn isr_ticks() -> u64 {
        cortex_m::interrupt::free(|_| {
            super::super::rx_queue::isr_ticks() + super::wrap_handler_ticks()
        })
    }
}
pub use super::rx_queue::SerialRx;
pub use usart::Usart2Tx as SerialTx;

/// The host link, both halves (the session reads and writes through separate borrows:
/// destructure it).
pub struct LiveSerial {
    /// Bytes from the host, queued by the interrupt.
    pub rx: SerialRx,
    /// Bytes to the host.
    pub tx: SerialTx,
}

/// USART2, receiving; fails on a second call.
pub fn live_serial(_board: &mut Board) -> LiveSerial {
    let Some((rx, tx)) = usart::Usart2::take() else {
        crate::fail("USART2 already taken");
    };
    match calibrate_wrap() {
        Some(n) => defmt::info!(
            "SysTick: the wrap handler takes {=u32} instructions (left out of the live figures)",
            n
        ),
        None => defmt::warn!(
            "SysTick: the wrap handler could not be measured: the live figures include it"
        ),
    }
    LiveSerial { rx, tx }
}

/// QEMU does not model the F405's flash controller: the model lives in a RAM-backed NOR flash
/// (four 2 KiB pages; sequential-storage wants at least two, digits' model image with its
/// transform is 788 bytes, so a page takes two saves). It starts erased at every boot.
pub type ModelStore = tinynewton_live::ram_flash::RamFlash<8192, 2048>;

/// The model flash starts erased at every boot (QEMU models no flash controller: it is RAM, see
/// [`ModelStore`]), so the live app never finds a saved model here and says why.
pub const MODEL_FLASH_ERASED_AT_BOOT: bool = true;

/// The RAM flash, erased, and its whole range.
pub fn model_flash(_board: &mut Board) -> (ModelStore, core::ops::Range<u32>) {
    (ModelStore::new(), 0..8192)
}
