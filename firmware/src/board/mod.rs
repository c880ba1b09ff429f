//! Board support: exactly one module is compiled, selected by a cargo feature. Each exports
//! `NAME`, `Board { led, delay, counter }` and `init() -> Board`.

#[cfg(feature = "qemu")]
mod qemu;
#[cfg(feature = "qemu")]
pub use qemu::*;

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
