//! WeAct "Black Pill" STM32F411CEU6 (25 MHz crystal, 512 KiB flash, 128 KiB RAM), flashed
//! with `probe-rs run --chip STM32F411CEUx`. LED on PC13, cycles from DWT CYCCNT, defmt over RTT.

use stm32f4xx_hal::{
    gpio::{Output, PC13},
    pac,
    prelude::*,
    rcc::Config,
    timer::SysDelay,
};

use crate::counter::Dwt64;

/// Printed in the banner.
pub const NAME: &str = "STM32F411CE (WeAct Black Pill)";

/// What the app needs from the board.
pub struct Board {
    /// On-board LED (PC13, active low).
    pub led: PC13<Output>,
    /// SysTick delay at the core clock.
    pub delay: SysDelay,
    /// Core cycles from DWT CYCCNT.
    pub counter: Dwt64,
}

/// 100 MHz from the 25 MHz crystal; LED pin as push-pull output.
pub fn init() -> Board {
    let (Some(dp), Some(cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take()) else {
        crate::fail("peripherals already taken");
    };
    let mut rcc = dp.RCC.freeze(Config::hse(25.MHz()).sysclk(100.MHz()));
    let gpioc = dp.GPIOC.split(&mut rcc);
    let led = gpioc.pc13.into_push_pull_output();
    let delay = cp.SYST.delay(&rcc.clocks);
    Board {
        led,
        delay,
        counter: Dwt64::new(cp.DCB, cp.DWT),
    }
}
