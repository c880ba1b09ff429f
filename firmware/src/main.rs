//! The default demo (`cargo run --release`): the board trains logistic regression with Newton's
//! method from the packed datasets in its flash (7-vs-1 MNIST by default, or the pairs
//! `TINYNEWTON_DATA` named at build time), evaluates on the test split and reports over defmt.
//! Exit status 0 only if every check passed.
#![no_std]
#![no_main]

mod app;
mod selection;

use cortex_m_rt::entry;
use tinynewton_firmware::finish;

#[entry]
fn main() -> ! {
    let mut board = tinynewton_firmware::start();
    finish(app::run(app::Io {
        led: &mut board.led,
        delay: &mut board.delay,
        counter: &mut board.counter,
    }))
}
