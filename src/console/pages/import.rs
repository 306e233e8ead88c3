//! Importing the register: upload a table (.xlsx, .ods, .csv), see what would change,
//! then apply. Only the id and name columns are read (`schools::import`). The upload
//! waits between the two steps in a private folder under a random name, for an hour.

use std::time::Duration;

use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{centre_for, centres, count, failed, page, register_problem, respond, scroll_table};
use crate::config::Config;
use crate::console::store::{Scope, Session};
use crate::console::{auth, guard, Shared, MAX_UPLOAD};
use crate::schools::{self, import, Imported};

/// An upload not applied within this is deleted.
const KEEP_UPLOAD: Duration = Duration::from_secs(3600);
const KINDS: [&str; 3] = ["xlsx", "ods", "csv"];

/// What the form asks, and what the preview carries on to the apply step.
#[derive(Deserialize, Default, Clone)]
pub(crate) struct Settings {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    upload: String,
    #[serde(default)]
    media_centre: String,
    #[serde(default)]
    rooms: String,
    #[serde(default)]
    id_column: String,
    #[serde(default)]
    name_column: String,
}

pub(crate) async fn form(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let session = match guard::session(&app, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let config = match app.config() {
        Ok(c) => c,
        Err(e) => return failed(&format!("{e:#}")),
    };
    show_form(&config, &session, None, StatusCode::OK)
}

fn show_form(
    config: &Config,
    session: &Session,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let centres = centres(config, &session.staff.scope);
    let body = html! {
        @if let Some(p) = problem { div.error role="alert" { p { (p) } } }
        p {
            "Laden Sie Ihr Schulverzeichnis als Tabelle hoch (Excel .xlsx, LibreOffice .ods "
            "oder .csv). Gelesen werden nur die Spalten mit Kennung und Name der Schule; "
            "Schulen, die es schon gibt, bleiben unverändert. Sie sehen zuerst, was sich "
            "ändern würde."
        }
        form.stack method="post" action="/import" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(session.csrf);
            div {
                label for="file" { "Tabelle" }
                input id="file" name="file" type="file" required accept=".xlsx,.ods,.csv";
            }
            div {
                label for="id_column" { "Überschrift der Spalte mit der Kennung" }
                p.hint id="spalten-hinweis" { "So, wie sie in der ersten Zeile der Tabelle steht; Groß- und Kleinschreibung zählen nicht." }
                input id="id_column" name="id_column" type="text" required value="id" aria-describedby="spalten-hinweis" autocapitalize="none" spellcheck="false";
            }
            div {
                label for="name_column" { "Überschrift der Spalte mit dem Namen" }
                input id="name_column" name="name_column" type="text" required value="name" aria-describedby="spalten-hinweis" autocapitalize="none" spellcheck="false";
            }
            div {
                label for="rooms" { "Räume je neuer Schule" }
                input id="rooms" name="rooms" type="number" min="1" max=(schools::MAX_ROOMS) required value="1";
            }
            @if session.staff.scope == Scope::Provider && !centres.is_empty() {
                div {
                    label for="media_centre" { "Medienzentrum" }
                    select id="media_centre" name="media_centre" {
                        @for (id, name) in &centres { option value=(id) { (name) } }
                    }
                }
            }
            div { button type="submit" { "Vorschau anzeigen" } }
        }
    };
    respond(
        status,
        page(
            "Schulverzeichnis importieren",
            Some(session),
            "/import",
            body,
        ),
    )
}

/// The upload's form: its fields and the file, saved under a random name.
async fn receive(
    app: &Shared,
    mut multipart: Multipart,
) -> anyhow::Result<(Settings, Option<String>)> {
    let mut settings = Settings::default();
    let mut saved = None;
    while let Some(field) = multipart.next_field().await? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let kind = field
                .file_name()
                .and_then(|n| n.rsplit_once('.'))
                .map(|(_, k)| k.to_ascii_lowercase())
                .filter(|k| KINDS.contains(&k.as_str()));
            let bytes = field.bytes().await?;
            anyhow::ensure!(bytes.len() <= MAX_UPLOAD, "upload too large");
            if let Some(kind) = kind {
                let upload = format!("{}.{kind}", auth::token());
                write_private(&app.uploads.join(&upload), &bytes)?;
                saved = Some(upload);
            }
            continue;
        }
        let text = field.text().await?;
        match name.as_str() {
            "csrf" => settings.csrf = text,
            "media_centre" => settings.media_centre = text,
            "rooms" => settings.rooms = text,
            "id_column" => settings.id_column = text,
            "name_column" => settings.name_column = text,
            _ => {}
        }
    }
    Ok((settings, saved))
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

/// Deletes uploads older than [`KEEP_UPLOAD`].
pub(crate) fn forget_old_uploads(app: &Shared) {
    let Ok(entries) = std::fs::read_dir(&app.uploads) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > KEEP_UPLOAD);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// An upload's name as the preview handed it on: a token and a known kind, nothing else.
fn upload_path(app: &Shared, upload: &str) -> Option<std::path::PathBuf> {
    let (token, kind) = upload.split_once('.')?;
    let ok =
        token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()) && KINDS.contains(&kind);
    let path = app.uploads.join(upload);
    (ok && path.is_file()).then_some(path)
}

/// Runs the import (a dry run for the preview).
async fn run(
    app: &Shared,
    path: std::path::PathBuf,
    settings: &Settings,
    centre: Option<String>,
    rooms: usize,
    dry_run: bool,
) -> anyhow::Result<Imported> {
    let app = app.clone();
    let columns = import::Columns {
        id: settings.id_column.trim().to_owned(),
        name: settings.name_column.trim().to_owned(),
    };
    let imported = tokio::task::spawn_blocking(move || {
        schools::import(
            &app.files,
            &path,
            &columns,
            centre.as_deref(),
            rooms,
            dry_run,
        )
    })
    .await??;
    Ok(imported)
}

fn rooms_of(settings: &Settings) -> Option<usize> {
    settings
        .rooms
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=schools::MAX_ROOMS).contains(n))
}

pub(crate) async fn preview(
    State(app): State<Shared>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    forget_old_uploads(&app);
    let received = receive(&app, multipart).await;
    let (settings, saved) = match received {
        Ok(r) => r,
        Err(e) => return failed(&format!("an upload: {e:#}")),
    };
    let session = match guard::change(&app, &headers, &settings.csrf) {
        Ok(s) => s,
        Err(r) => {
            if let Some(upload) = saved {
                let _ = std::fs::remove_file(app.uploads.join(upload));
            }
            return r;
        }
    };
    let config = match app.config() {
        Ok(c) => c,
        Err(e) => return failed(&format!("{e:#}")),
    };
    let refuse = |p: &str| show_form(&config, &session, Some(p), StatusCode::UNPROCESSABLE_ENTITY);
    let Some(upload) = saved else {
        return refuse("Bitte wählen Sie eine Tabelle im Format .xlsx, .ods oder .csv.");
    };
    let centre = match centre_for(&config, &session, &settings.media_centre) {
        Ok(c) => c,
        Err(()) => return refuse("Bitte wählen Sie das Medienzentrum des Verzeichnisses."),
    };
    let Some(rooms) = rooms_of(&settings) else {
        return refuse("Bitte 1 bis 50 Räume je Schule angeben.");
    };
    let path = app.uploads.join(&upload);
    let imported = match run(&app, path.clone(), &settings, centre.clone(), rooms, true).await {
        Ok(i) => i,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return refuse(&unreadable(&e));
        }
    };
    let carry = Settings {
        upload,
        media_centre: centre.unwrap_or_default(),
        rooms: rooms.to_string(),
        ..settings
    };
    let body = html! {
        (summary(&imported))
        @if imported.added.is_empty() {
            p { a href="/import" { "Eine andere Tabelle importieren" } }
        } @else {
            form.actions method="post" action="/import/anwenden" {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="upload" value=(carry.upload);
                input type="hidden" name="media_centre" value=(carry.media_centre);
                input type="hidden" name="rooms" value=(carry.rooms);
                input type="hidden" name="id_column" value=(carry.id_column);
                input type="hidden" name="name_column" value=(carry.name_column);
                button type="submit" { (count(imported.added.len(), "Schule", "Schulen")) " anlegen" }
                a.button.secondary href="/import" { "Abbrechen" }
            }
        }
    };
    respond(
        StatusCode::OK,
        page("Vorschau des Imports", Some(&session), "/import", body),
    )
}

fn summary(imported: &Imported) -> Markup {
    let verb = match imported.dry_run {
        true => "Neu angelegt würden",
        false => "Neu angelegt",
    };
    let columns = match imported.dry_run {
        true => vec!["Kennung", "Name", "Räume"],
        false => vec!["Kennung", "Name", "Räume", "Zugangsbrief"],
    };
    html! {
        h2 { (verb) ": " (count(imported.added.len(), "Schule", "Schulen")) }
        @if !imported.added.is_empty() {
            (scroll_table("Neue Schulen", &columns, html! {
                tbody { @for a in &imported.added {
                    tr {
                        td data-label="Kennung" { (a.school) }
                        td data-label="Name" { (a.name) }
                        td data-label="Räume" { (a.rooms.len()) }
                        @if !imported.dry_run { td data-label="Zugangsbrief" { a href={ "/schulen/" (a.school) "/brief.pdf" } download { "PDF" span.sr { " für " (a.school) } } } }
                    }
                } }
            }))
        }
        @if !imported.unchanged.is_empty() {
            h2 { "Schon vorhanden, unverändert: " (imported.unchanged.len()) }
            p { (imported.unchanged.join(", ")) }
        }
        @if !imported.elsewhere.is_empty() {
            // Which media centre is not said: that is the other one's business.
            h2 { "Bei einem anderen Medienzentrum eingetragen" }
            p { "Diese Kennungen gehören schon zu einer Schule eines anderen Medienzentrums; bitte klären Sie das mit dem Betreiber:" }
            ul { @for (school, _) in &imported.elsewhere { li { (school) } } }
        }
        @if !imported.skipped.is_empty() {
            h2 { "Übersprungene Zeilen: " (imported.skipped.len()) }
            ul { @for s in &imported.skipped { li { "Zeile " (s.row) ": " (skipped_reason(&s.reason)) } } }
        }
    }
}

/// Why a register was not taken, in German (the details go to the log).
fn unreadable(e: &anyhow::Error) -> String {
    match e.downcast_ref::<schools::Error>() {
        Some(e) => format!("Der Import wurde nicht ausgeführt. {}", register_problem(e)),
        None => {
            tracing::warn!("console: an import: {e:#}");
            "Der Import wurde nicht ausgeführt. Bitte versuchen Sie es noch einmal.".into()
        }
    }
}

/// Why a row of the register was skipped, in German. `schools::import` words its
/// reasons for the command line; the test below holds this to those of
/// `import::read`, the browser test (a school twice in the table) to the one of
/// `schools::import`.
fn skipped_reason(reason: &str) -> String {
    // The school id, where the reason quotes it (`{:?}`: in double quotes).
    let id = reason.split('"').nth(1).unwrap_or_default();
    if reason == "no school id" {
        "keine Kennung".into()
    } else if reason.starts_with("the school id is not made of") {
        "die Kennung darf nur a–z, 0–9, Bindestrich, Unterstrich und Punkt enthalten \
         (höchstens 64 Zeichen)"
            .into()
    } else if reason.ends_with("has no name") {
        format!("die Schule {id} hat keinen Namen")
    } else if reason.ends_with("is not one line") {
        format!("der Name der Schule {id} ist nicht einzeilig")
    } else if reason.ends_with("is in the register twice") {
        format!("die Kennung {id} steht zweimal in der Tabelle")
    } else {
        reason.into()
    }
}

pub(crate) async fn apply(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(settings): Form<Settings>,
) -> Response {
    let session = match guard::change(&app, &headers, &settings.csrf) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let config = match app.config() {
        Ok(c) => c,
        Err(e) => return failed(&format!("{e:#}")),
    };
    let refuse = |p: &str| show_form(&config, &session, Some(p), StatusCode::UNPROCESSABLE_ENTITY);
    let Some(path) = upload_path(&app, &settings.upload) else {
        return refuse(
            "Diese Vorschau ist abgelaufen. Bitte laden Sie die Tabelle noch einmal hoch.",
        );
    };
    let centre = match centre_for(&config, &session, &settings.media_centre) {
        Ok(c) => c,
        Err(()) => return refuse("Bitte wählen Sie das Medienzentrum des Verzeichnisses."),
    };
    let Some(rooms) = rooms_of(&settings) else {
        return refuse("Bitte 1 bis 50 Räume je Schule angeben.");
    };
    let imported = run(&app, path.clone(), &settings, centre.clone(), rooms, false).await;
    let _ = std::fs::remove_file(&path);
    let imported = match imported {
        Ok(i) => i,
        Err(e) => return refuse(&unreadable(&e)),
    };
    let _ = app.daemon.reload().await;
    {
        let store = app.store();
        for added in &imported.added {
            if let Err(e) = store.audit(
                &session.staff.login,
                centre.as_deref(),
                "Schule importiert",
                &added.school,
            ) {
                return failed(&e);
            }
        }
    }
    let body = html! {
        div.notice role="status" { p { "Der Import ist übernommen. Die Räume der neuen Schulen sind ab sofort geschützt; ihre Passwörter stehen in den Zugangsbriefen." } }
        (summary(&imported))
    };
    respond(
        StatusCode::OK,
        page("Import übernommen", Some(&session), "/import", body),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_for_a_skipped_row_is_said_in_german() {
        let dir = std::env::temp_dir().join(format!("raumwart-import-reasons-{}", auth::token()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("register.csv");
        let rows = "id;name\n;Ohne Kennung\nBad Id!;Schule\ngs-a;\n\"gs-b\";\"Zwei\nZeilen\"\n";
        std::fs::write(&file, rows).unwrap();
        let columns = import::Columns {
            id: "id".into(),
            name: "name".into(),
        };
        let register = import::read(&file, &columns).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let reasons: Vec<&str> = register.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(reasons.len(), 4, "one row of each kind: {reasons:?}");
        for reason in reasons {
            let german = skipped_reason(reason);
            assert_ne!(german, reason, "no German for {reason:?}");
        }
        assert_eq!(
            skipped_reason("school \"gs-a\" has no name"),
            "die Schule gs-a hat keinen Namen"
        );
    }
}
