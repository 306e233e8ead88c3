//! What the school commands print: each result's `Display`.

use std::fmt;
use std::time::Duration;

use super::{Added, Imported, Listing, Removed, RoomAccess, Rotated};

impl fmt::Display for Added {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "added school {} ({}){} with {} room(s); password in {}",
            self.school,
            self.name,
            of_centre(self.media_centre.as_deref()),
            self.rooms.len(),
            self.password_file.display()
        )?;
        write_rooms(f, &self.rooms)?;
        if !self.password.expose().is_empty() {
            writeln!(
                f,
                "organizer password for the school: {}",
                self.password.expose()
            )?;
        }
        Ok(())
    }
}

/// `, media centre ID,` after a school's name, when it has one by id.
fn of_centre(media_centre: Option<&str>) -> String {
    media_centre.map_or(String::new(), |id| format!(", media centre {id},"))
}

fn write_rooms(f: &mut fmt::Formatter<'_>, rooms: &[RoomAccess]) -> fmt::Result {
    for room in rooms {
        let target = match &room.link {
            Some(link) => link.clone(),
            None => room.nodes.join(", "),
        };
        writeln!(f, "  {:?} -> {target}", room.configured)?;
    }
    Ok(())
}

impl fmt::Display for Removed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "removed school {}; rooms no longer protected: {}",
            self.school,
            self.nodes.join(", ")
        )?;
        for file in &self.deleted_files {
            writeln!(f, "  deleted {}", file.display())?;
        }
        Ok(())
    }
}

impl fmt::Display for Rotated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.passwords {
            writeln!(
                f,
                "new password for school {} in {} (rooms: {}): {}",
                self.school,
                p.password_file.display(),
                p.rooms.join(", "),
                p.password.expose()
            )?;
        }
        writeln!(
            f,
            "it opens idle rooms once raumwart has reloaded, rooms in session from their next reset"
        )
    }
}

/// An age as the largest unit that fits: `5 min`, `3 h`, `12 d`.
pub fn age_text(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The media centre's column only when schools name theirs by id.
        let centres = self.0.iter().any(|s| s.media_centre.is_some());
        let mut header = vec!["ID", "NAME", "ROOMS", "PASSWORD AGE"];
        if centres {
            header.insert(1, "MEDIA CENTRE");
        }
        let header: Vec<String> = header.into_iter().map(String::from).collect();
        let rows: Vec<Vec<String>> = self
            .0
            .iter()
            .map(|s| {
                let ages: Vec<String> = s
                    .passwords
                    .iter()
                    .map(|p| {
                        let age = p.age.map_or("unreadable".into(), age_text);
                        match p.rooms.as_slice() {
                            [] => age,
                            rooms => format!("{age} ({})", rooms.join(", ")),
                        }
                    })
                    .collect();
                let mut row = vec![
                    s.id.clone(),
                    s.name.clone().unwrap_or_default(),
                    s.rooms.join(", "),
                    ages.join("; "),
                ];
                if centres {
                    row.insert(1, s.media_centre.clone().unwrap_or_else(|| "-".into()));
                }
                row
            })
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            writeln!(f, "{}", cells.join("  ").trim_end())?;
        }
        Ok(())
    }
}

impl fmt::Display for Imported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run { "would add" } else { "added" };
        for added in &self.added {
            writeln!(
                f,
                "{verb} school {} ({}){} with {} room(s)",
                added.school,
                added.name,
                of_centre(added.media_centre.as_deref()),
                added.rooms.len()
            )?;
            if !self.dry_run {
                writeln!(f, "  password in {}", added.password_file.display())?;
            }
            write_rooms(f, &added.rooms)?;
        }
        if !self.unchanged.is_empty() {
            writeln!(
                f,
                "configured already, left alone: {}",
                self.unchanged.join(", ")
            )?;
        }
        for (school, centre) in &self.elsewhere {
            writeln!(
                f,
                "school {school} is configured for media centre {centre}, not this register's: \
                 left alone; check whether the two are the same school"
            )?;
        }
        for skipped in &self.skipped {
            writeln!(f, "row {} skipped: {}", skipped.row, skipped.reason)?;
        }
        if self.added.is_empty() {
            writeln!(f, "no new schools")?;
        } else if !self.dry_run {
            writeln!(
                f,
                "`raumwart school letter ID --out FILE` writes each school's access letter"
            )?;
        }
        Ok(())
    }
}
