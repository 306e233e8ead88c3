//! The media centre's school register (.xlsx, .ods or .csv), read for `school import`.
//!
//! A register holds far more than raumwart needs: addresses and a contact person with
//! name, function, phone and mail. Only two columns are read, the school id and the
//! school name, found by their header in the first row. For spreadsheets the parser
//! (calamine) reads the first sheet into memory; the two columns are copied out and the
//! rest is dropped at once. Nothing else from the file reaches a result, an error
//! message or a log line: errors name the file, a column header given by the admin, a
//! row number, and at most a valid school id from the id column.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{ConfigLock, Edit, Files, Imported, Rooms};
use crate::config::Secret;

/// The two columns to read, by their header text (case and surrounding spaces ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub id: String,
    pub name: String,
}

/// The schools found in a register.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Register {
    pub schools: Vec<Entry>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The row in the file, from 1 (the header row is 1).
    pub row: usize,
    pub id: String,
    pub name: String,
}

/// A row that was not used, and why (never with a cell other than the id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub row: usize,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {what}", path.display())]
    Format { path: PathBuf, what: String },
    #[error("{}: no column {column:?} in the first row (the header row)", path.display())]
    Column { path: PathBuf, column: String },
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}: {}", self.row, self.reason)
    }
}

/// Reads the id and name columns of a register; the kind comes from the file's ending.
pub fn read(path: &Path, columns: &Columns) -> Result<Register, Error> {
    let ending = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let rows = match ending.as_str() {
        "csv" | "txt" => {
            let bytes = std::fs::read(path).map_err(|source| Error::Read {
                path: path.to_owned(),
                source,
            })?;
            csv_columns(&decode(&bytes), path, columns)?
        }
        "xlsx" | "xlsm" | "ods" | "xls" => spreadsheet_columns(path, columns)?,
        _ => {
            return Err(Error::Format {
                path: path.to_owned(),
                what: "not a register: use .xlsx, .ods or .csv".into(),
            })
        }
    };
    Ok(entries(rows))
}

/// Each data row as (row number, id cell, name cell).
type Rows = Vec<(usize, String, String)>;

fn entries(rows: Rows) -> Register {
    let mut register = Register::default();
    for (row, id, name) in rows {
        let (id, name) = (id.trim().to_owned(), name.trim().to_owned());
        if id.is_empty() && name.is_empty() {
            continue;
        }
        let reason = if id.is_empty() {
            Some("no school id".to_owned())
        } else if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || id.len() > 64
        {
            // Not echoed: a wrong --id-column could be the contact person's.
            Some("the school id is not made of a-z, 0-9, '-', '_' and '.' (at most 64)".to_owned())
        } else if name.is_empty() {
            Some(format!("school {id:?} has no name"))
        } else if name.chars().any(char::is_control) {
            Some(format!("the name of school {id:?} is not one line"))
        } else {
            None
        };
        match reason {
            Some(reason) => register.skipped.push(Skipped { row, reason }),
            None => register.schools.push(Entry { row, id, name }),
        }
    }
    register
}

/// Which cells of the header row hold the two columns.
fn find_columns(
    header: impl Iterator<Item = String>,
    columns: &Columns,
    path: &Path,
) -> Result<(usize, usize), Error> {
    let header: Vec<String> = header.map(|h| h.trim().to_lowercase()).collect();
    let find = |wanted: &str| {
        let wanted = wanted.trim().to_lowercase();
        header
            .iter()
            .position(|h| *h == wanted)
            .ok_or_else(|| Error::Column {
                path: path.to_owned(),
                column: wanted,
            })
    };
    Ok((find(&columns.id)?, find(&columns.name)?))
}

// --- spreadsheets --------------------------------------------------------------------

fn spreadsheet_columns(path: &Path, columns: &Columns) -> Result<Rows, Error> {
    use calamine::{Data, Reader};
    // calamine's error texts may quote a cell; say only what went wrong in general.
    let unreadable = |_| Error::Format {
        path: path.to_owned(),
        what: "cannot read this spreadsheet (damaged, encrypted, or not what its name says)".into(),
    };
    if let Err(source) = std::fs::metadata(path) {
        return Err(Error::Read {
            path: path.to_owned(),
            source,
        });
    }
    let mut workbook = calamine::open_workbook_auto(path).map_err(unreadable)?;
    let sheet = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| Error::Format {
            path: path.to_owned(),
            what: "the file has no sheet".into(),
        })?
        .map_err(unreadable)?;
    let cell = |c: Option<&Data>| match c {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Int(i)) => i.to_string(),
        Some(Data::Float(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Some(Data::Float(f)) => f.to_string(),
        _ => String::new(),
    };
    // Rows as the spreadsheet counts them: the range may start below row 1.
    let first_row = sheet.start().map_or(0, |(row, _)| row as usize) + 1;
    let first_col = sheet.start().map_or(0, |(_, col)| col as usize);
    let mut rows = sheet.rows().enumerate();
    let header = loop {
        match rows.next() {
            Some((_, row)) if row.iter().all(|c| cell(Some(c)).trim().is_empty()) => continue,
            Some((_, row)) => break row,
            None => {
                return Err(Error::Column {
                    path: path.to_owned(),
                    column: columns.id.trim().to_lowercase(),
                })
            }
        }
    };
    let mut padded: Vec<String> = vec![String::new(); first_col];
    padded.extend(header.iter().map(|c| cell(Some(c))));
    let (id, name) = find_columns(padded.into_iter(), columns, path)?;
    let (id, name) = (id.checked_sub(first_col), name.checked_sub(first_col));
    let at = |row: &[Data], i: Option<usize>| cell(i.and_then(|i| row.get(i)));
    Ok(rows
        .map(|(n, row)| (first_row + n, at(row, id), at(row, name)))
        .collect())
}

// --- CSV -----------------------------------------------------------------------------

/// UTF-8 (with or without BOM), else Windows-1252, which German Excel writes.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    }
}

/// The record separator: `;` (German Excel), `,` or tab, whichever the header row uses most.
fn delimiter(text: &str) -> char {
    let header = parse_csv(text, '\u{0}')
        .into_iter()
        .next()
        .map(|(_, r)| r.concat())
        .unwrap_or_default();
    [';', ',', '\t']
        .into_iter()
        .max_by_key(|d| header.matches(*d).count())
        .unwrap_or(';')
}

fn csv_columns(text: &str, path: &Path, columns: &Columns) -> Result<Rows, Error> {
    let records = parse_csv(text, delimiter(text));
    let mut records = records
        .into_iter()
        .filter(|(_, r)| r.iter().any(|c| !c.trim().is_empty()));
    let Some((_, header)) = records.next() else {
        return Err(Error::Column {
            path: path.to_owned(),
            column: columns.id.trim().to_lowercase(),
        });
    };
    let (id, name) = find_columns(header.into_iter(), columns, path)?;
    Ok(records
        .map(|(row, mut r)| {
            let take = |r: &mut Vec<String>, i: usize| r.get_mut(i).map(std::mem::take);
            let id_cell = take(&mut r, id).unwrap_or_default();
            let name_cell = take(&mut r, name).unwrap_or_default();
            (row, id_cell, name_cell)
        })
        .collect())
}

/// RFC 4180 records numbered from 1 as a spreadsheet shows them: quoted fields may hold
/// the delimiter, `""` and line breaks.
fn parse_csv(text: &str, delimiter: char) -> Vec<(usize, Vec<String>)> {
    let mut records = vec![];
    let mut record = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            '"' if field.is_empty() => quoted = true,
            c if c == delimiter && !quoted => record.push(std::mem::take(&mut field)),
            '\r' if !quoted && chars.peek() == Some(&'\n') => {}
            '\n' if !quoted => {
                record.push(std::mem::take(&mut field));
                records.push((records.len() + 1, std::mem::take(&mut record)));
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push((records.len() + 1, record));
    }
    records
}

// --- adding the register's schools ---------------------------------------------------

/// `raumwart school import FILE --id-column COL --name-column COL [--media-centre ID]
/// [--rooms N] [--dry-run]`: adds the register's schools that are not configured yet,
/// each with `rooms` rooms, all of `media_centre` (a register is one media centre's; it
/// is needed when there are several). Only the id and name columns are read; a school
/// configured already stays where it is, of whichever media centre.
pub fn import(
    files: &Files,
    register_file: &Path,
    columns: &Columns,
    media_centre: Option<&str>,
    rooms: usize,
    dry_run: bool,
) -> Result<Imported, super::Error> {
    let lock = match dry_run {
        true => ConfigLock::shared(&files.config)?,
        false => ConfigLock::exclusive(&files.config)?,
    };
    let mut edit = Edit::open(files, &lock)?;
    let media_centre = edit.media_centre(media_centre)?;
    let register = read(register_file, columns)?;
    let known = edit.schools()?;
    let mut skipped = register.skipped;
    let mut unchanged = vec![];
    let mut planned = vec![];
    let mut seen: Vec<String> = vec![];
    let mut elsewhere = vec![];
    for entry in register.schools {
        if let Some(school) = known.iter().find(|s| s.id == entry.id) {
            if let (Some(theirs), Some(ours)) = (&school.media_centre, &media_centre) {
                if theirs != ours {
                    elsewhere.push((entry.id.clone(), theirs.clone()));
                }
            }
            unchanged.push(entry.id);
        } else if seen.contains(&entry.id) {
            skipped.push(Skipped {
                row: entry.row,
                reason: format!("school id {:?} is in the register twice", entry.id),
            });
        } else {
            seen.push(entry.id.clone());
            let rooms = Rooms::Count(rooms);
            planned.push(edit.add(&entry.id, &entry.name, media_centre.as_deref(), &rooms)?);
        }
    }
    let config = if dry_run || planned.is_empty() {
        edit.validate()?
    } else {
        edit.commit()?
    };
    let added = planned
        .into_iter()
        .map(|p| {
            let mut added = p.finish(&config);
            if dry_run {
                added.password = Secret::new("");
            }
            added
        })
        .collect();
    Ok(Imported {
        dry_run,
        added,
        unchanged,
        elsewhere,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_with_quotes_and_line_breaks() {
        let text = "a;\"b;c\";\"d \"\"e\"\"\"\r\n1;\"two\nlines\";3\n\n4;5;6";
        let records = parse_csv(text, ';');
        assert_eq!(
            records,
            [
                (1, vec!["a".into(), "b;c".into(), "d \"e\"".into()]),
                (2, vec!["1".into(), "two\nlines".into(), "3".into()]),
                (3, vec!["".into()]),
                (4, vec!["4".into(), "5".into(), "6".into()]),
            ]
        );
        assert_eq!(delimiter(text), ';');
        assert_eq!(delimiter("a,b,\"c;d;e\"\n"), ',');
    }

    #[test]
    fn windows_1252_is_read_too() {
        assert_eq!(decode(b"M\xfcllheim"), "Müllheim");
        assert_eq!(decode("Müllheim".as_bytes()), "Müllheim");
        assert_eq!(decode(b"\xEF\xBB\xBFid"), "id");
    }

    #[test]
    fn rows_without_a_usable_id_or_name_are_skipped_with_a_reason() {
        let rows = vec![
            (2, "gs-a".into(), "Grundschule A".into()),
            (3, "".into(), "".into()),
            (4, "".into(), "Schule ohne Kürzel".into()),
            (5, "gs b".into(), "Grundschule B".into()),
            (6, "gs-c".into(), " ".into()),
        ];
        let r = entries(rows);
        assert_eq!(
            r.schools,
            [Entry {
                row: 2,
                id: "gs-a".into(),
                name: "Grundschule A".into()
            }]
        );
        let reasons: Vec<String> = r.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            reasons,
            [
                "row 4: no school id",
                "row 5: the school id is not made of a-z, 0-9, '-', '_' and '.' (at most 64)",
                "row 6: school \"gs-c\" has no name",
            ]
        );
    }
}
