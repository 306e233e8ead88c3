//! What a run claims, and whether it held: the results table of BENCHMARKS.md.

use crate::*;

/// What a run claims, and whether it held.
#[derive(Default)]
pub(crate) struct Checks {
    pub(crate) rows: Vec<(String, String, String, bool)>,
    /// The smoke run: speed is shown in the sections, not checked.
    pub(crate) speed_unchecked: bool,
}

impl Checks {
    /// Records a speed claim: what, what was measured, the target, whether it was met.
    pub(crate) fn claim(&mut self, what: &str, measured: String, target: &str, met: bool) {
        if !self.speed_unchecked {
            self.must(what, measured, target, met);
        }
    }

    /// Records a claim that must hold at any speed, in the smoke run too.
    pub(crate) fn must(&mut self, what: &str, measured: String, target: &str, met: bool) {
        self.rows.push((what.into(), measured, target.into(), met));
    }

    pub(crate) fn missed(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| !r.3)
            .map(|r| r.0.as_str())
            .collect()
    }

    pub(crate) fn table(&self) -> String {
        let mut out = String::from("| claim | measured | target | |\n|---|---|---|---|\n");
        for (what, measured, target, met) in &self.rows {
            let verdict = if *met { "met" } else { "**missed**" };
            writeln!(out, "| {what} | {measured} | {target} | {verdict} |").unwrap();
        }
        out
    }

    /// Prints the verdict; exits non-zero if anything was missed.
    pub(crate) fn finish(&self) {
        let missed = self.missed();
        if missed.is_empty() {
            println!("bench: all {} checks met", self.rows.len());
            return;
        }
        eprintln!(
            "bench: {} of {} checks MISSED:",
            missed.len(),
            self.rows.len()
        );
        for m in missed {
            eprintln!("  missed: {m}");
        }
        std::process::exit(1);
    }
}
