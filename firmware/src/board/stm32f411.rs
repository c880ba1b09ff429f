//! WeAct "Black Pill" STM32F411CEU6 (25 MHz crystal, 512 KiB flash, 128 KiB RAM), flashed
//! with `probe-rs run --chip STM32F411CEUx`. LED on PC13, cycles from DWT CYCCNT, defmt over RTT.
//!
//! For the live-learning app: the host link is USART1 on PA9 (TX) / PA10 (RX) at 115 200 baud
//! 8N1 (a 3.3 V USB-serial adapter; the Black Pill has no on-board one), received by the RXNE
//! interrupt into [`serial`]'s queue; the adopted model is kept in flash sectors 1–3 (3 × 16 KiB
//! at `0x0800_4000..0x0801_0000`), which the linker keeps free: the vector table stays in sector
//! 0 and the program starts at sector 4 (`_stext`, see build.rs).

use core::cell::RefCell;
use core::ops::Range;

use cortex_m::interrupt::{free, Mutex};
use cortex_m_rt::exception;
use embedded_hal_nb::{nb, serial::Read as _};
use embedded_storage_async::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use stm32f4xx_hal::{
    flash::{self, FlashExt, LockedFlash},
    gpio::{Output, PA10, PA9, PC13},
    pac::{self, USART1},
    prelude::*,
    rcc::{Config, Rcc},
    serial::{self as hal_serial, RxListen},
    timer::SysDelay,
};

use crate::counter::Dwt64;

/// The serial receive queue: counters and the interrupt's time.
pub mod serial {
    pub use super::super::rx_queue::{isr_ticks, stats, RxStats, QUEUE_BYTES, QUEUE_CAPACITY};
}
pub use super::rx_queue::SerialRx;

/// Printed in the banner.
pub const NAME: &str = "STM32F411CE (WeAct Black Pill)";

/// The link's baud rate (the host sets its serial device to the same).
pub const BAUD: u32 = 115_200;

/// What the app needs from the board.
pub struct Board {
    /// On-board LED (PC13, active low).
    pub led: PC13<Output>,
    /// SysTick delay at the core clock.
    pub delay: SysDelay,
    /// Core cycles from DWT CYCCNT.
    pub counter: Dwt64,
    /// USART1, its pins and the clocks, until [`live_serial`] takes them (the default demo never
    /// does, so it links neither the UART driver nor the receive queue).
    serial: Option<(USART1, PA9, PA10, Rcc)>,
    /// The flash controller, until [`model_flash`] takes it.
    flash: Option<pac::FLASH>,
}

/// 100 MHz from the 25 MHz crystal; LED pin as push-pull output.
pub fn init() -> Board {
    let (Some(dp), Some(cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take()) else {
        crate::fail("peripherals already taken");
    };
    let mut rcc = dp.RCC.freeze(Config::hse(25.MHz()).sysclk(100.MHz()));
    let gpioc = dp.GPIOC.split(&mut rcc);
    let gpioa = dp.GPIOA.split(&mut rcc);
    let led = gpioc.pc13.into_push_pull_output();
    let delay = cp.SYST.delay(&rcc.clocks);
    Board {
        led,
        delay,
        counter: Dwt64::new(cp.DCB, cp.DWT),
        serial: Some((dp.USART1, gpioa.pa9, gpioa.pa10, rcc)),
        flash: Some(dp.FLASH),
    }
}

// ---------------------------------------------------------------------------------------------
// Serial: the HAL's USART1, receive by interrupt into the shared queue.

/// USART1's position in the F411's vector table (RM0383 table 37).
const USART1_IRQ: u16 = 37;

/// The USART1 interrupt number as the NVIC API wants it.
#[derive(Clone, Copy)]
struct Usart1Irq;

// SAFETY: 37 is USART1's interrupt number on the F411 (see `USART1_IRQ`).
unsafe impl cortex_m::interrupt::InterruptNumber for Usart1Irq {
    fn number(self) -> u16 {
        USART1_IRQ
    }
}

/// The HAL's receiving half, owned by the interrupt (and by `resume`, which re-enables it).
static RX: Mutex<RefCell<Option<hal_serial::Rx<USART1>>>> = Mutex::new(RefCell::new(None));

/// Without the PAC's `rt` feature `cortex-m-rt` binds every device interrupt to this handler
/// (as on the emulated board): USART1 goes to its driver, anything else is a fault.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == USART1_IRQ as i16 {
        on_usart1();
    } else {
        defmt::error!("unexpected interrupt {=i16}", irqn);
        crate::fail("an interrupt without a handler fired");
    }
}

/// RXNE (or an overrun, which RXNEIE also signals): one byte from DR into the queue; with the
/// queue full the byte stays in DR and the interrupt masks itself until the reader makes room.
fn on_usart1() {
    super::rx_queue::timed(|cs| {
        let mut rx = RX.borrow(cs).borrow_mut();
        let Some(rx) = rx.as_mut() else {
            return;
        };
        if !super::rx_queue::has_room(cs) {
            rx.unlisten();
            super::rx_queue::count_stall(cs);
            return;
        }
        // The HAL reads SR then DR, which clears RXNE. On an error flag (overrun; noise,
        // framing or parity) it reads DR to clear the flag and discards the byte: lost, so
        // counted with the overruns (a corrupt byte would fail its frame's checksum anyway).
        match rx.read() {
            Ok(byte) => super::rx_queue::push(cs, byte),
            Err(nb::Error::Other(_)) => super::rx_queue::count_overrun(cs),
            Err(nb::Error::WouldBlock) => {}
        }
    });
}

/// Receives again after a stall (the reader made room).
fn resume() {
    free(|cs| {
        if let Some(rx) = RX.borrow(cs).borrow_mut().as_mut() {
            rx.listen();
        }
    });
}

/// The transmitting half: the HAL's `Tx` (embedded-io 0.6) behind embedded-io 0.7's `Write`.
pub struct SerialTx(hal_serial::Tx<USART1>);

impl embedded_io::ErrorType for SerialTx {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Write for SerialTx {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        // The HAL's write returns 0 while TXE is clear: wait for it (0.7 wants at least one
        // byte written for a non-empty buffer).
        loop {
            match embedded_io_06::Write::write(&mut self.0, buf) {
                Ok(0) => continue,
                Ok(n) => return Ok(n),
                Err(_) => return Err(embedded_io::ErrorKind::Other),
            }
        }
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        embedded_io_06::Write::flush(&mut self.0).map_err(|_| embedded_io::ErrorKind::Other)
    }
}

/// The host link, both halves (the session reads and writes through separate borrows:
/// destructure it).
pub struct LiveSerial {
    /// Bytes from the host, queued by the interrupt.
    pub rx: SerialRx,
    /// Bytes to the host.
    pub tx: SerialTx,
}

/// USART1 at [`BAUD`], its receive interrupt on; fails on a second call.
pub fn live_serial(board: &mut Board) -> LiveSerial {
    let Some((usart, tx_pin, rx_pin, mut rcc)) = board.serial.take() else {
        crate::fail("the serial port is already taken");
    };
    let Ok(serial) = usart.serial::<u8>((tx_pin, rx_pin), BAUD.bps(), &mut rcc) else {
        crate::fail("USART1 cannot make 115200 baud from these clocks");
    };
    let (tx, mut rx) = serial.split();
    let Some(queue) = super::rx_queue::split(resume) else {
        crate::fail("the receive queue is already taken");
    };
    rx.listen();
    free(|cs| RX.borrow(cs).replace(Some(rx)));
    // SAFETY: the handler's state (queue producer, HAL receiver) is installed above, and no
    // critical section is active here that unmasking could break.
    unsafe { cortex_m::peripheral::NVIC::unmask(Usart1Irq) };
    LiveSerial {
        rx: queue,
        tx: SerialTx(tx),
    }
}

// ---------------------------------------------------------------------------------------------
// Model flash: sectors 1-3 through the HAL's flash driver, as embedded-storage-async NorFlash.

extern "C" {
    // Defined by build.rs's memory.x: the sectors kept for the model.
    static __model_flash_start: u8;
    static __model_flash_end: u8;
}

/// Offset of flash addresses in the HAL's flash driver.
const FLASH_BASE: u32 = 0x0800_0000;
/// Sectors 1-3 of the F411 are 16 KiB each (RM0383 table 5).
const SECTOR: u32 = 16 * 1024;

/// The model's flash: sectors 1-3, offsets from the start of flash (as the HAL counts them).
pub struct ModelStore {
    flash: LockedFlash,
    range: Range<u32>,
}

/// What the flash controller reported (the HAL's error), or an operation outside the sectors
/// kept for the model (refused before touching the controller).
#[derive(Clone, Copy, Debug, defmt::Format)]
pub enum FlashError {
    /// Outside the model's sectors.
    OutOfBounds,
    /// An erase not on whole sectors.
    NotAligned,
    /// The controller's error flags (programming sequence, alignment, write protection).
    Controller,
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            FlashError::NotAligned => NorFlashErrorKind::NotAligned,
            FlashError::Controller => NorFlashErrorKind::Other,
        }
    }
}

impl From<flash::Error> for FlashError {
    fn from(e: flash::Error) -> Self {
        match e {
            flash::Error::ProgrammingAlignment => FlashError::NotAligned,
            _ => FlashError::Controller,
        }
    }
}

impl ModelStore {
    /// `offset..offset + len` lies in the model's sectors.
    fn check(&self, offset: u32, len: usize) -> Result<(), FlashError> {
        let end = u32::try_from(len)
            .ok()
            .and_then(|len| offset.checked_add(len))
            .ok_or(FlashError::OutOfBounds)?;
        if offset >= self.range.start && end <= self.range.end {
            Ok(())
        } else {
            Err(FlashError::OutOfBounds)
        }
    }
}

impl ErrorType for ModelStore {
    type Error = FlashError;
}

impl ReadNorFlash for ModelStore {
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        self.check(offset, bytes.len())?;
        let start = offset as usize;
        let src = self
            .flash
            .read()
            .get(start..start + bytes.len())
            .ok_or(FlashError::OutOfBounds)?;
        bytes.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.flash.len()
    }
}

impl NorFlash for ModelStore {
    // The controller programs bytes (PSIZE x8, as the HAL sets it); words keep sequential-
    // storage's items aligned like on the other boards.
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = SECTOR as usize;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        self.check(from, to.saturating_sub(from) as usize)?;
        if !from.is_multiple_of(SECTOR) || !to.is_multiple_of(SECTOR) {
            return Err(FlashError::NotAligned);
        }
        let mut unlocked = self.flash.unlocked();
        // Sectors 0-3 are 16 KiB: sector number = offset / 16 KiB (checked above to be 1-3).
        for sector in from / SECTOR..to / SECTOR {
            unlocked.erase(sector as u8)?;
        }
        Ok(())
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        self.check(offset, bytes.len())?;
        self.flash
            .unlocked()
            .program(offset as usize, bytes.iter())
            .map_err(FlashError::from)
    }
}

/// The model flash keeps its bytes across resets and power loss (the chip's own flash): the live
/// app resumes from the model saved there.
pub const MODEL_FLASH_ERASED_AT_BOOT: bool = false;

/// The model's flash and its range (offsets from the start of flash: sectors 1-3); fails on a
/// second call.
pub fn model_flash(board: &mut Board) -> (ModelStore, Range<u32>) {
    let Some(controller) = board.flash.take() else {
        crate::fail("the flash is already taken");
    };
    // Only the symbols' addresses are taken (the linker defines them in memory.x).
    let (start, end) = (
        core::ptr::addr_of!(__model_flash_start) as u32,
        core::ptr::addr_of!(__model_flash_end) as u32,
    );
    let range = start - FLASH_BASE..end - FLASH_BASE;
    (
        ModelStore {
            flash: LockedFlash::new(controller),
            range: range.clone(),
        },
        range,
    )
}
