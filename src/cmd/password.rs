//! `raumwart password`: a new strong password for a password file.

use std::process::ExitCode;

use crate::config::password;

pub(super) fn run() -> ExitCode {
    match password::generate() {
        Ok(p) => {
            println!("{p}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("raumwart: no random numbers from the OS: {e}");
            ExitCode::FAILURE
        }
    }
}
