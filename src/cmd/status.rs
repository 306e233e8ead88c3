//! `raumwart status`: every managed room of the running daemon, as a table or JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::client;
use crate::daemon::control;

pub(super) fn run(path: &Path, socket: Option<PathBuf>, json: bool) -> ExitCode {
    client(path, socket, |control| async move {
        let (code, body) = control::request(&control, "GET", "/status").await?;
        anyhow::ensure!(code == 200, "raumwart answered {code}: {body}");
        if json {
            println!("{body}");
        } else {
            print!("{}", table(&body)?);
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The daemon's `/status` JSON as the table `status` prints.
pub(super) fn table(json: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = serde_json::from_str(json)?;
    let mut out = format!("connected: {}, in sync: {}\n", v["connected"], v["synced"]);
    if v["standby"] == true {
        out.push_str("standing by: another raumwart holds the component name\n");
    }
    let problems: Vec<&str> = v["module_problems"]
        .as_array()
        .map(|p| p.iter().filter_map(|p| p.as_str()).collect())
        .unwrap_or_default();
    if problems.contains(&"protocol-mismatch") {
        out.push_str(
            "Prosody runs a raumwart module of another release: restart Prosody \
             (no room map is pushed until then; the module's last map protects the rooms)\n",
        );
    }
    if !problems.is_empty() {
        out.push_str(&format!("module problems: {}\n", problems.join(", ")));
    }
    let rooms = v["rooms"].as_array().map(Vec::as_slice).unwrap_or_default();
    // With [[media_centre]] blocks, rooms are grouped by their media centre.
    let centres = rooms.iter().any(|r| r["media_centre"].is_string());
    let mut rows: Vec<Vec<String>> = rooms
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
            let age = r["session_age_seconds"]
                .as_u64()
                .map(|s| format!("{}:{:02}", s / 3600, s / 60 % 60))
                .unwrap_or_else(|| "-".into());
            let organizer = if r["organizer_present"] == true {
                "yes"
            } else {
                "no"
            };
            let row = [
                s("school"),
                s("room"),
                s("state"),
                r["people"].to_string(),
                organizer.into(),
                age,
            ];
            match centres {
                true => std::iter::once(r["media_centre"].as_str().unwrap_or("-").to_owned())
                    .chain(row)
                    .collect(),
                false => row.into(),
            }
        })
        .collect();
    let mut header = vec!["SCHOOL", "ROOM", "STATE", "PEOPLE", "ORGANIZER", "SESSION"];
    if centres {
        header.insert(0, "MEDIA CENTRE");
        rows.sort_by(|a, b| a[0].cmp(&b[0]));
    }
    let header: Vec<String> = header.into_iter().map(String::from).collect();
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_status_table_says_when_this_instance_stands_by() {
        let json = r#"{"connected":false,"standby":true,"synced":false,"rooms":[]}"#;
        let table = super::table(json).unwrap();
        assert!(table.contains("standing by"), "{table}");
        let json = r#"{"connected":true,"standby":false,"synced":true,"rooms":[]}"#;
        assert!(!super::table(json).unwrap().contains("standing by"));
    }

    #[test]
    fn the_status_table_says_when_prosody_runs_a_module_of_another_release() {
        let json = r#"{"connected":true,"synced":false,"module_problems":["protocol-mismatch"],"rooms":[]}"#;
        let table = super::table(json).unwrap();
        assert!(
            table.contains("another release: restart Prosody"),
            "{table}"
        );
        let json = r#"{"connected":true,"synced":true,"module_problems":[],"rooms":[]}"#;
        assert!(!super::table(json).unwrap().contains("module"));
    }

    #[test]
    fn the_status_table_groups_rooms_by_media_centre_when_there_are_several() {
        let room = |centre: &str, school: &str, room: &str| {
            format!(
                r#"{{"room":"{room}","school":"{school}","media_centre":{centre},"state":"idle","people":0,"organizer_present":false,"session_age_seconds":null}}"#
            )
        };
        let json = format!(
            r#"{{"connected":true,"standby":false,"synced":true,"rooms":[{},{},{}]}}"#,
            room("\"kmz-b\"", "gs-b", "gs-b-1"),
            room("\"kmz-a\"", "gs-a", "gs-a-1"),
            room("\"kmz-b\"", "gs-c", "gs-c-1"),
        );
        let table = super::table(&json).unwrap();
        let lines: Vec<&str> = table.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "MEDIA CENTRE  SCHOOL  ROOM    STATE  PEOPLE  ORGANIZER  SESSION",
                "kmz-a         gs-a    gs-a-1  idle   0       no         -",
                "kmz-b         gs-b    gs-b-1  idle   0       no         -",
                "kmz-b         gs-c    gs-c-1  idle   0       no         -",
            ],
            "{table}"
        );
        // The one [media_centre] table: no id, no column.
        let json = format!(
            r#"{{"connected":true,"standby":false,"synced":true,"rooms":[{}]}}"#,
            room("null", "gs-a", "gs-a-1")
        );
        let table = super::table(&json).unwrap();
        assert!(table.contains("\nSCHOOL  ROOM"), "{table}");
        assert!(!table.contains("MEDIA CENTRE"), "{table}");
    }
}
