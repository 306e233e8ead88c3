//! The tests that need nothing but the raumwart binary and files: the CLI against its man
//! pages and completions, config errors, the media centre's commands and the letter, and
//! the fuzz targets. `cargo test --test offline`.

mod check;
mod cli;
mod example;
mod fuzz;
mod letter;
mod man;
mod school;
