//! Board support: exactly one module is compiled, selected by a cargo feature. Each exports
//! `NAME`, `Board { led, delay, counter }` and `init() -> Board`.
//!
//! For the live-learning app (`src/bin/live.rs`) every board also exports the host link and the
//! model's flash (QEMU: USART2 by registers and a RAM-backed NOR flash; the real boards below):
//! - `live_serial(&mut Board) -> LiveSerial { rx: SerialRx, tx: SerialTx }`: embedded-io 0.7
//!   `Read` (interrupt-fed queue, `rx_queue`) and `Write` over the HAL's UART;
//!   `serial::{stats, isr_ticks, QUEUE_BYTES, QUEUE_CAPACITY}`: the queue's counters, the
//!   interrupt's time in the board counter's unit, the queue's RAM and the bytes it holds;
//!   `BAUD`;
//! - `model_flash(&mut Board) -> (ModelStore, Range<u32>)`: embedded-storage-async 0.4
//!   `NorFlash` over the HAL's flash driver and the range of it kept for the model (erase pages
//!   that build.rs's memory.x keeps out of the program's reach); `MODEL_FLASH_ERASED_AT_BOOT`
//!   (QEMU: its RAM flash is erased at every boot, so the app never resumes there).

#[cfg(feature = "qemu")]
mod qemu;
#[cfg(feature = "qemu")]
pub use qemu::*;

// The interrupt-fed receive queue every board's serial port fills.
mod rx_queue;

#[cfg(feature = "stm32f411")]
mod stm32f411;
#[cfg(feature = "stm32f411")]
pub use stm32f411::*;

#[cfg(feature = "nrf52840")]
mod nrf52840;
#[cfg(feature = "nrf52840")]
pub use nrf52840::*;

#[cfg(not(any(feature = "qemu", feature = "stm32f411", feature = "nrf52840")))]
compile_error!("select a board feature: qemu (default), stm32f411 or nrf52840");

#[cfg(any(
    all(feature = "qemu", feature = "stm32f411"),
    all(feature = "qemu", feature = "nrf52840"),
    all(feature = "stm32f411", feature = "nrf52840")
))]
compile_error!("select exactly one board feature (use --no-default-features for a real board)");
