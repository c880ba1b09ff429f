//! nRF52840-DK (1 MiB flash, 256 KiB RAM), flashed with `probe-rs run --chip nRF52840_xxAA`.
//! LED1 on P0.13 (active low), cycles from DWT CYCCNT at 64 MHz, defmt over RTT.

use nrf52840_hal::{
    gpio::{p0, Level, Output, Pin, PushPull},
    pac, Delay,
};

use crate::counter::Dwt64;

/// Printed in the banner.
pub const NAME: &str = "nRF52840 (nRF52840-DK)";

/// What the app needs from the board.
pub struct Board {
    /// LED1 (P0.13, active low), off at start.
    pub led: Pin<Output<PushPull>>,
    /// SysTick delay at the 64 MHz core clock.
    pub delay: Delay,
    /// Core cycles from DWT CYCCNT.
    pub counter: Dwt64,
}

/// The core runs from the internal 64 MHz oscillator out of reset: no clock setup needed.
pub fn init() -> Board {
    let (Some(dp), Some(cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take()) else {
        crate::fail("peripherals already taken");
    };
    let port0 = p0::Parts::new(dp.P0);
    let led = port0.p0_13.into_push_pull_output(Level::High).degrade();
    Board {
        led,
        delay: Delay::new(cp.SYST),
        counter: Dwt64::new(cp.DCB, cp.DWT),
    }
}
