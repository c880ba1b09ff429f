//! nRF52840-DK (1 MiB flash, 256 KiB RAM), flashed with `probe-rs run --chip nRF52840_xxAA`.
//! LED1 on P0.13 (active low), cycles from DWT CYCCNT at 64 MHz, defmt over RTT.
//!
//! For the live-learning app: the host link is UARTE0 on P0.06 (TX) / P0.08 (RX), the pins the
//! DK's interface MCU bridges to its USB virtual COM port, at 115 200 baud 8N1 without flow
//! control; each byte is received by a one-byte EasyDMA transfer whose ENDRX interrupt moves it
//! into [`serial`]'s queue and starts the next (bytes arriving in between wait in the UARTE's
//! RX FIFO). The adopted model is kept in the last four 4 KiB flash pages
//! (`0x000F_C000..0x0010_0000`), which build.rs's memory.x removes from the program's FLASH.

use core::cell::RefCell;
use core::ops::Range;

use cortex_m::interrupt::{free, Mutex};
use embedded_storage_async::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
use nrf52840_hal::{
    gpio::{p0, Level, Output, Pin, PushPull},
    nvmc::Nvmc,
    pac::{self, interrupt, NVMC, UARTE0},
    uarte::{self, Baudrate, Parity, Uarte, UarteRx, UarteTx},
    Delay,
};

use crate::counter::Dwt64;

/// The serial receive queue: counters and the interrupt's time.
pub mod serial {
    pub use super::super::rx_queue::{isr_ticks, stats, RxStats, QUEUE_BYTES, QUEUE_CAPACITY};
}
pub use super::rx_queue::SerialRx;

/// Printed in the banner.
pub const NAME: &str = "nRF52840 (nRF52840-DK)";

/// The link's baud rate (the host sets its serial device to the same).
pub const BAUD: u32 = 115_200;

/// What the app needs from the board.
pub struct Board {
    /// LED1 (P0.13, active low), off at start.
    pub led: Pin<Output<PushPull>>,
    /// SysTick delay at the 64 MHz core clock.
    pub delay: Delay,
    /// Core cycles from DWT CYCCNT.
    pub counter: Dwt64,
    /// UARTE0 and its pins, until [`live_serial`] takes them (the default demo never does, so
    /// it links neither the UART driver nor the receive queue).
    serial: Option<(UARTE0, uarte::Pins)>,
    /// The flash controller, until [`model_flash`] takes it.
    nvmc: Option<NVMC>,
}

/// The core runs from the internal 64 MHz oscillator out of reset: no clock setup needed.
pub fn init() -> Board {
    let (Some(dp), Some(cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take()) else {
        crate::fail("peripherals already taken");
    };
    let port0 = p0::Parts::new(dp.P0);
    let led = port0.p0_13.into_push_pull_output(Level::High).degrade();
    let pins = uarte::Pins {
        rxd: port0.p0_08.into_floating_input().degrade(),
        // TX idles high (a low line is a start bit to the receiver).
        txd: port0.p0_06.into_push_pull_output(Level::High).degrade(),
        // No flow control: the interrupt keeps up (see the module comment).
        cts: None,
        rts: None,
    };
    Board {
        led,
        delay: Delay::new(cp.SYST),
        counter: Dwt64::new(cp.DCB, cp.DWT),
        serial: Some((dp.UARTE0, pins)),
        nvmc: Some(dp.NVMC),
    }
}

// ---------------------------------------------------------------------------------------------
// Serial: the HAL's UARTE0, one-byte DMA receives chained by the ENDRX interrupt.

/// The HAL's receiving half, owned by the interrupt (and by `resume`, which restarts it).
static RX: Mutex<RefCell<Option<UarteRx<UARTE0>>>> = Mutex::new(RefCell::new(None));

/// UARTE0's registers (for what the HAL does not expose: the ENDRX interrupt, ERRORSRC).
fn regs() -> &'static pac::uarte0::RegisterBlock {
    // SAFETY: a shared reference to memory-mapped registers; the writes made through it (one
    // INTENSET write, ERRORSRC clears) touch bits the HAL never uses.
    unsafe { &*UARTE0::ptr() }
}

/// ENDRX: the byte of the finished transfer into the queue, then the next transfer if the queue
/// has room for its byte (else a stall: `resume` restarts it once the reader made room).
#[interrupt]
fn UARTE0_UART0() {
    super::rx_queue::timed(|cs| {
        let errors = regs().errorsrc.read().bits();
        if errors != 0 {
            // Write 1 to clear. OVERRUN (bit 0): a byte arrived with the RX FIFO full.
            regs().errorsrc.write(|w| unsafe { w.bits(errors) });
            if errors & 1 != 0 {
                super::rx_queue::count_overrun(cs);
            }
        }
        let mut rx = RX.borrow(cs).borrow_mut();
        let Some(rx) = rx.as_mut() else {
            return;
        };
        // A finished transfer (`read_ready` does not start one while one is running).
        if let Ok(true) = embedded_io::ReadReady::read_ready(rx) {
            let mut byte = [0u8; 1];
            // Returns at once (ENDRX is set): clears the events, checks one byte arrived.
            match embedded_io::Read::read(rx, &mut byte) {
                Ok(1) => super::rx_queue::push(cs, byte[0]),
                _ => super::rx_queue::count_overrun(cs),
            }
            if super::rx_queue::has_room(cs) {
                // No transfer runs now: this starts the next one.
                let _ = embedded_io::ReadReady::read_ready(rx);
            } else {
                super::rx_queue::count_stall(cs);
            }
        }
    });
}

/// Starts a transfer again after a stall, once there is room (nothing while one runs).
fn resume() {
    free(|cs| {
        if super::rx_queue::has_room(cs) {
            if let Some(rx) = RX.borrow(cs).borrow_mut().as_mut() {
                let _ = embedded_io::ReadReady::read_ready(rx);
            }
        }
    });
}

/// The transmitting half: the HAL's `UarteTx` (EasyDMA from a RAM buffer) implements
/// embedded-io 0.7's `Write` itself.
pub type SerialTx = UarteTx<UARTE0>;

/// The host link, both halves (the session reads and writes through separate borrows:
/// destructure it).
pub struct LiveSerial {
    /// Bytes from the host, queued by the interrupt.
    pub rx: SerialRx,
    /// Bytes to the host.
    pub tx: SerialTx,
}

/// UARTE0 at [`BAUD`] on the DK's VCOM pins, receiving; fails on a second call.
pub fn live_serial(board: &mut Board) -> LiveSerial {
    let Some((uarte0, pins)) = board.serial.take() else {
        crate::fail("the serial port is already taken");
    };
    let uarte = Uarte::new(uarte0, pins, Parity::EXCLUDED, Baudrate::BAUD115200);
    // EasyDMA reads and writes RAM only: the buffers are statics. 64 bytes per transmit DMA
    // (a report frame takes a few).
    let (Some(tx_buf), Some(rx_buf)) = (
        cortex_m::singleton!(: [u8; 64] = [0; 64]),
        cortex_m::singleton!(: [u8; 1] = [0; 1]),
    ) else {
        crate::fail("the UARTE buffers are already taken");
    };
    let Ok((tx, mut rx)) = uarte.split(tx_buf, rx_buf) else {
        crate::fail("cannot split UARTE0");
    };
    let Some(queue) = super::rx_queue::split(resume) else {
        crate::fail("the receive queue is already taken");
    };
    // The first transfer; each ENDRX then starts the next.
    let _ = embedded_io::ReadReady::read_ready(&mut rx);
    free(|cs| RX.borrow(cs).replace(Some(rx)));
    regs().intenset.write(|w| w.endrx().set());
    // SAFETY: the handler's state (queue producer, HAL receiver) is installed above, and no
    // critical section is active here that unmasking could break.
    unsafe { cortex_m::peripheral::NVIC::unmask(pac::Interrupt::UARTE0_UART0) };
    LiveSerial { rx: queue, tx }
}

// ---------------------------------------------------------------------------------------------
// Model flash: the last pages through the HAL's NVMC driver (blocking embedded-storage 0.3)
// behind embedded-storage-async 0.4.

extern "C" {
    // Defined by build.rs's memory.x: the pages kept for the model.
    static __model_flash_start: u8;
    static __model_flash_end: u8;
}

/// The model's flash pages (offsets from their start, as the HAL's `Nvmc` counts them).
pub struct ModelStore(Nvmc<NVMC>);

impl ErrorType for ModelStore {
    type Error = <Nvmc<NVMC> as embedded_storage::nor_flash::ErrorType>::Error;
}

// The NVMC finishes each operation before returning (the CPU stalls on flash during a write
// or an erase), so the async operations complete on their first poll.
impl ReadNorFlash for ModelStore {
    const READ_SIZE: usize = <Nvmc<NVMC> as embedded_storage::nor_flash::ReadNorFlash>::READ_SIZE;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        embedded_storage::nor_flash::ReadNorFlash::read(&mut self.0, offset, bytes)
    }

    fn capacity(&self) -> usize {
        embedded_storage::nor_flash::ReadNorFlash::capacity(&self.0)
    }
}

impl NorFlash for ModelStore {
    const WRITE_SIZE: usize = <Nvmc<NVMC> as embedded_storage::nor_flash::NorFlash>::WRITE_SIZE;
    const ERASE_SIZE: usize = <Nvmc<NVMC> as embedded_storage::nor_flash::NorFlash>::ERASE_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        embedded_storage::nor_flash::NorFlash::erase(&mut self.0, from, to)
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        embedded_storage::nor_flash::NorFlash::write(&mut self.0, offset, bytes)
    }
}

/// The model flash keeps its bytes across resets and power loss (the chip's own flash): the live
/// app resumes from the model saved there.
pub const MODEL_FLASH_ERASED_AT_BOOT: bool = false;

/// The model's flash and its range (offsets from the first reserved page); fails on a second
/// call.
pub fn model_flash(board: &mut Board) -> (ModelStore, Range<u32>) {
    let Some(nvmc) = board.nvmc.take() else {
        crate::fail("the flash is already taken");
    };
    // SAFETY: the pages between the two symbols are outside every section the linker places
    // (memory.x ends FLASH where they begin) and this is the only slice ever made of them
    // (`nvmc` above is taken once); the HAL's Nvmc wants them as a `&'static mut [u8]`.
    let start = core::ptr::addr_of!(__model_flash_start) as usize;
    let end = core::ptr::addr_of!(__model_flash_end) as usize;
    let pages = unsafe { core::slice::from_raw_parts_mut(start as *mut u8, end - start) };
    let len = pages.len() as u32;
    (ModelStore(Nvmc::new(nvmc, pages)), 0..len)
}
