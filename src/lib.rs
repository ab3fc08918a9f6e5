//! enformer-vep: Enformer variant-effect prediction for GWAS tables.
//!
//! The library core knows nothing about the command line: each step (`extract`, `check_cache`, ...) takes a
//! typed options struct and returns a typed report. `cli` turns flags and config files into those options.

pub mod allocator;
pub mod cache;
pub mod check_cache;
pub mod cli;
pub mod demo;
pub mod ensemble;
pub mod export;
pub mod extract;
pub mod figure;
pub mod fsutil;
pub mod genome;
pub mod merge;
pub mod model;
pub mod normalize;
pub mod orient;
pub mod plot;
pub mod predict;
pub mod progress;
pub mod report;
pub mod run;
pub mod score;
pub mod selection;
pub mod substitution;
pub mod tables;
pub mod timing;
pub mod variants;
pub mod window;
