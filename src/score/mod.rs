//! Scoring: a variant's ensemble of predictions → one number per track and statistic.
//!
//! [`compose`] averages each window role's members, stitches an indel's alt prediction and hands the
//! ref/alt profiles to [`statistics`]. (Not to be confused with `cache stats`, which counts cache entries.)

pub mod compose;
pub mod statistics;

pub use compose::{ComposeError, Composer, Profile};
pub use statistics::Stat;
