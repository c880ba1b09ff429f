#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod data;
pub mod format;

pub use data::{DataError, Dequant, DenseRows, FeatureTable, Rows};
