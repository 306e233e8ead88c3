//! `raumwart doctor`: the running Prosody, asked through the daemon and its module, held
//! against what raumwart needs; one line per check, ok or what to change.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::daemon::control;

/// Something must change.
const EX_CHANGE: u8 = 1;
/// The module (or the daemon) is too old to be asked.
const EX_TOO_OLD: u8 = 2;
/// sysexits' EX_TEMPFAIL: the daemon or Prosody cannot be asked now.
const EX_TEMPFAIL: u8 = 75;

pub(super) fn run(path: &Path, socket: Option<PathBuf>) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let asked = runtime.block_on(async {
        let control = control::locate(path, socket.as_deref()).await?;
        control::request(&control, "GET", "/doctor").await
    });
    let (code, body) = match asked {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("raumwart: {e:#}");
            return ExitCode::from(EX_TEMPFAIL);
        }
    };
    match code {
        200 => match lines(&body) {
            Ok((text, all_ok)) => {
                print!("{text}");
                ExitCode::from(if all_ok { 0 } else { EX_CHANGE })
            }
            Err(e) => {
                eprintln!("raumwart: an unreadable report: {e}");
                ExitCode::from(EX_TEMPFAIL)
            }
        },
        // A daemon from before `doctor` knows no such route.
        404 => {
            eprintln!(
                "raumwart: the running raumwart does not know `doctor`: restart it to run the \
                 installed release"
            );
            ExitCode::from(EX_TOO_OLD)
        }
        501 => {
            eprint!("raumwart: {body}");
            ExitCode::from(EX_TOO_OLD)
        }
        _ => {
            eprint!("raumwart: {body}");
            ExitCode::from(EX_TEMPFAIL)
        }
    }
}

/// The daemon's `/doctor` JSON as the lines `doctor` prints, and whether all are ok.
fn lines(json: &str) -> anyhow::Result<(String, bool)> {
    let v: serde_json::Value = serde_json::from_str(json)?;
    let checks = v["checks"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no checks"))?;
    let mut out = String::new();
    let mut all_ok = true;
    for c in checks {
        let ok = c["ok"] == true;
        all_ok &= ok;
        let word = if ok { "ok" } else { "change" };
        let (check, text) = (c["check"].as_str(), c["text"].as_str());
        out.push_str(&format!(
            "{word:<7} {}: {}\n",
            check.unwrap_or("?"),
            text.unwrap_or("?")
        ));
    }
    Ok((out, all_ok))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_check_is_one_line_ok_or_change() {
        let json = r#"{"checks":[
            {"check":"Nagle","ok":false,"text":"set network_settings = { nagle = false }"},
            {"check":"room cache","ok":true,"text":"muc_room_cache_size 10000"}],"prosody":{}}"#;
        let (text, ok) = super::lines(json).unwrap();
        assert!(!ok);
        assert_eq!(
            text,
            "change  Nagle: set network_settings = { nagle = false }\n\
             ok      room cache: muc_room_cache_size 10000\n"
        );
        let (_, ok) = super::lines(r#"{"checks":[{"check":"x","ok":true,"text":""}]}"#).unwrap();
        assert!(ok);
        assert!(super::lines("{}").is_err());
    }
}
