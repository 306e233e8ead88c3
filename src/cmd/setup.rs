//! `raumwart setup`: raumwart added to a Debian Jitsi's Prosody; prints what changed, or
//! with `--dry-run` the diff of every file it would write.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::setup::{self, Options};

pub(super) fn run(
    config: PathBuf,
    domain: Option<String>,
    prosody_config: PathBuf,
    module_dir: PathBuf,
    dry_run: bool,
) -> ExitCode {
    let options = Options {
        prosody_config,
        config,
        domain,
        module_dir,
    };
    let result = match dry_run {
        true => setup::plan(&options).map(|plan| {
            print!("{}", plan.diff());
            match plan.changes() {
                true => println!("(dry run: nothing written)"),
                false => print!("{plan}"),
            }
        }),
        false => setup::setup(&options).map(|plan| print!("{plan}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raumwart setup: {e}");
            ExitCode::FAILURE
        }
    }
}
