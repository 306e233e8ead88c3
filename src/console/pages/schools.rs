//! The register: the account's schools, adding one, its page (rooms, links, password
//! age), a new school password, its access letter (PDF or to print), removing it.
//!
//! Another media centre's school is answered like one that does not exist, also when its
//! id is typed into the address or a form by hand.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{
    centre_for, centre_of, centres, count, failed, own_school, page, register_problem, respond,
    scroll_table,
};
use crate::config::{self, Config};
use crate::console::store::{Scope, Session};
use crate::console::{guard, Shared};
use crate::schools::{self, letter, Files, Rooms, MAX_ROOMS};

#[derive(Deserialize)]
pub(crate) struct Shown {
    entfernt: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct NewSchool {
    #[serde(default)]
    csrf: String,
    id: String,
    name: String,
    rooms: String,
    #[serde(default)]
    media_centre: String,
}

#[derive(Deserialize)]
pub(crate) struct Confirmed {
    #[serde(default)]
    csrf: String,
}

/// Loads the config and the session, or answers.
fn context(app: &Shared, headers: &HeaderMap) -> Result<(Session, Arc<Config>), Response> {
    let session = guard::session(app, headers)?;
    let config = app.config().map_err(|e| failed(&format!("{e:#}")))?;
    Ok((session, config))
}

/// Like [`context`], for a page of one of the account's own schools.
fn own_context(
    app: &Shared,
    headers: &HeaderMap,
    id: &str,
) -> Result<(Session, Arc<Config>), Response> {
    let (session, config) = context(app, headers)?;
    own(session, config, id)
}

/// A change to one of the account's own schools: token, origin, and whose school.
fn own_change(
    app: &Shared,
    headers: &HeaderMap,
    csrf: &str,
    id: &str,
) -> Result<(Session, Arc<Config>), Response> {
    let session = guard::change(app, headers, csrf)?;
    let config = app.config().map_err(|e| failed(&format!("{e:#}")))?;
    own(session, config, id)
}

fn own(
    session: Session,
    config: Arc<Config>,
    id: &str,
) -> Result<(Session, Arc<Config>), Response> {
    match own_school(&config, &session.staff.scope, id) {
        Some(_) => Ok((session, config)),
        None => Err(super::message(
            StatusCode::NOT_FOUND,
            "Nicht gefunden",
            "Diese Schule gibt es nicht, oder sie gehört nicht zu Ihrem Medienzentrum.",
        )),
    }
}

pub(crate) async fn list(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(shown): Query<Shown>,
) -> Response {
    let (session, config) = match context(&app, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let body = html! {
        @if let Some(id) = &shown.entfernt {
            div.notice role="status" { p { "Die Schule " strong { (id) } " wurde entfernt." } }
        }
        (table(&config, &session.staff.scope))
        h2 id="neu" { "Schule anlegen" }
        (add_form(&config, &session, None, &NewSchoolShown::default()))
    };
    respond(
        StatusCode::OK,
        page("Schulen", Some(&session), "/schulen", body),
    )
}

fn table(config: &Config, scope: &Scope) -> Markup {
    let own: Vec<&config::School> = config
        .schools
        .iter()
        .filter(|s| scope.covers(config.media_centre_id(&s.id)))
        .collect();
    let with_centre = *scope == Scope::Provider && config.media_centres.len() > 1;
    let columns = match with_centre {
        true => vec!["Kennung", "Name", "Medienzentrum", "Räume"],
        false => vec!["Kennung", "Name", "Räume"],
    };
    html! {
        @if own.is_empty() {
            p { "Noch keine Schulen." }
        } @else {
            p { (count(own.len(), "Schule", "Schulen")) ". Über die Kennung kommen Sie zu den Räumen, zum Zugangsbrief und zum Passwort einer Schule." }
            (scroll_table("Ihre Schulen", &columns, html! {
                tbody { @for s in &own {
                    tr {
                        td data-label="Kennung" { a href={ "/schulen/" (s.id) } { (s.id) } }
                        td data-label="Name" { (s.name.as_deref().unwrap_or("")) }
                        @if with_centre {
                            td data-label="Medienzentrum" { (config.media_centre_of(&s.id).map_or("", |m| m.name.as_str())) }
                        }
                        td data-label="Räume" { (configured_rooms(s).len()) }
                    }
                } }
            }))
        }
    }
}

/// The rooms as configured (each may be opened as one or two nodes).
fn configured_rooms(school: &config::School) -> Vec<&str> {
    let mut names: Vec<&str> = school.rooms.iter().map(|r| r.configured.as_str()).collect();
    names.dedup();
    names
}

#[derive(Default)]
struct NewSchoolShown {
    id: String,
    name: String,
    rooms: String,
    media_centre: String,
}

fn add_form(
    config: &Config,
    session: &Session,
    problem: Option<&str>,
    shown: &NewSchoolShown,
) -> Markup {
    let centres = centres(config, &session.staff.scope);
    let rooms = match shown.rooms.as_str() {
        "" => "2",
        r => r,
    };
    html! {
        @if let Some(p) = problem {
            div.error role="alert" id="fehler" { p { (p) } }
        }
        form.stack method="post" action="/schulen" {
            input type="hidden" name="csrf" value=(session.csrf);
            div {
                label for="id" { "Kennung" }
                p.hint id="id-hinweis" { "Kleinbuchstaben, Ziffern und Bindestriche, z. B. gs-musterstadt. Die Räume heißen dann gs-musterstadt-1, -2 und so weiter." }
                input id="id" name="id" type="text" required aria-describedby="id-hinweis" value=(shown.id) pattern="[a-z0-9][a-z0-9_.-]*" autocapitalize="none" autocomplete="off" spellcheck="false";
            }
            div {
                label for="name" { "Name der Schule" }
                input id="name" name="name" type="text" required value=(shown.name) autocomplete="off";
            }
            div {
                label for="rooms" { "Anzahl der Räume" }
                input id="rooms" name="rooms" type="number" min="1" max=(MAX_ROOMS) required value=(rooms);
            }
            @if centres.len() > 1 || (session.staff.scope == Scope::Provider && !centres.is_empty()) {
                div {
                    label for="media_centre" { "Medienzentrum" }
                    select id="media_centre" name="media_centre" {
                        @for (id, name) in &centres {
                            option value=(id) selected[*id == shown.media_centre] { (name) }
                        }
                    }
                }
            }
            div { button type="submit" { "Schule anlegen" } }
        }
    }
}

pub(crate) async fn add(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<NewSchool>,
) -> Response {
    let session = match guard::change(&app, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let config = match app.config() {
        Ok(c) => c,
        Err(e) => return failed(&format!("{e:#}")),
    };
    let id = form.id.trim().to_lowercase();
    let name = form.name.trim().to_owned();
    let shown = NewSchoolShown {
        id: id.clone(),
        name: name.clone(),
        rooms: form.rooms.clone(),
        media_centre: form.media_centre.clone(),
    };
    let refuse = |problem: &str| {
        let body = add_form(&config, &session, Some(problem), &shown);
        respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            page("Schule anlegen", Some(&session), "/schulen", body),
        )
    };
    // The media centre: the account's own; the provider's choice among the blocks.
    let centre = match centre_for(&config, &session, &form.media_centre) {
        Ok(c) => c,
        Err(()) => return refuse("Bitte wählen Sie das Medienzentrum der Schule."),
    };
    if !config::is_id(&id) {
        return refuse(
            "Die Kennung darf nur Kleinbuchstaben, Ziffern, Bindestrich, Unterstrich und \
             Punkt enthalten.",
        );
    }
    if config.schools.iter().any(|s| s.id == id) {
        return refuse("Eine Schule mit dieser Kennung gibt es schon.");
    }
    if name.is_empty() {
        return refuse("Bitte geben Sie den Namen der Schule an.");
    }
    let count = match form.rooms.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_ROOMS).contains(&n) => n,
        _ => return refuse(&format!("Bitte 1 bis {MAX_ROOMS} Räume angeben.")),
    };
    let added = tokio::task::spawn_blocking({
        let (app, id, name, centre) = (app.clone(), id.clone(), name.clone(), centre.clone());
        move || {
            schools::add(
                &app.files,
                &id,
                &name,
                centre.as_deref(),
                &Rooms::Count(count),
            )
        }
    })
    .await;
    let added = match added {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            return refuse(&format!(
                "Die Schule wurde nicht angelegt. {}",
                register_problem(&e)
            ))
        }
        Err(e) => return failed(&e),
    };
    let reloaded = app.daemon.reload().await;
    if let Err(e) = app.store().audit(
        &session.staff.login,
        centre.as_deref(),
        "Schule angelegt",
        &id,
    ) {
        return failed(&e);
    }
    let body = html! {
        (reload_notice(&reloaded, added.credential))
        div.notice role="status" {
            p { "Die Schule " strong { (added.name) } " (" (added.school) ") ist angelegt. Ihre Räume sind ab sofort geschützt." }
        }
        (password_box(added.password.expose()))
        (room_links(&added.rooms))
        (letter_links(&added.school))
        p { a href={ "/schulen/" (added.school) } { "Zur Seite der Schule" } }
    };
    respond(
        StatusCode::OK,
        page("Schule angelegt", Some(&session), "/schulen", body),
    )
}

/// The daemon could not be told: the change is saved and counts from its next reload.
fn reload_notice(reloaded: &anyhow::Result<()>, credential: bool) -> Markup {
    html! {
        @if credential {
            div.error role="alert" { p { "Die Passwörter dieses Dienstes sind systemd-Zugangsdaten: sie gelten erst nach einem Neustart von raumwart durch den Betreiber." } }
        } @else if reloaded.is_err() {
            div.error role="alert" { p { "Gespeichert, aber raumwart war nicht erreichbar: die Änderung gilt, sobald raumwart wieder läuft." } }
        }
    }
}

fn password_box(password: &str) -> Markup {
    html! {
        h2 { "Schulpasswort" }
        p { "Nur auf dieser Seite sichtbar; es steht auch im Zugangsbrief." }
        p { span.secret { (password) } }
    }
}

fn room_links(rooms: &[schools::RoomAccess]) -> Markup {
    html! {
        h2 { "Räume" }
        ul { @for r in rooms {
            li { (r.configured) @if let Some(link) = &r.link { ": " a href=(link) { (link) } } }
        } }
    }
}

fn letter_links(school: &str) -> Markup {
    html! {
        h2 { "Zugangsbrief" }
        p.actions {
            a.button href={ "/schulen/" (school) "/brief.pdf" } download { "Zugangsbrief als PDF herunterladen" }
            a.button.secondary href={ "/schulen/" (school) "/brief" } { "Zugangsbrief zum Drucken öffnen" }
        }
    }
}

pub(crate) async fn show(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (session, config) = match context(&app, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(school) = own_school(&config, &session.staff.scope, &id) else {
        return super::not_found().await;
    };
    let rooms = schools::access(&config, &school.id);
    let centre = config.media_centre_of(&school.id).map(|m| m.name.clone());
    let body = html! {
        dl {
            dt { "Kennung" } dd { (school.id) }
            dt { "Name" } dd { (school.name.as_deref().unwrap_or("")) }
            @if let Some(c) = centre { dt { "Medienzentrum" } dd { (c) } }
        }
        (room_links(&rooms))
        (letter_links(&school.id))
        h2 { "Neues Schulpasswort" }
        p { "Das neue Passwort gilt sofort. Das bisherige öffnet dann keinen freien Raum mehr; wo gerade Unterricht läuft, gilt es noch bis zum Ende dieser Sitzung, und der Unterricht geht weiter. Die Schule braucht einen neuen Zugangsbrief." }
        form method="post" action={ "/schulen/" (school.id) "/neues-passwort" } {
            input type="hidden" name="csrf" value=(session.csrf);
            button type="submit" { "Neues Schulpasswort erzeugen" }
        }
        h2 { "Schule entfernen" }
        p { a href={ "/schulen/" (school.id) "/entfernen" } { "Schule " (school.id) " entfernen …" } }
    };
    let title = school.name.clone().unwrap_or_else(|| school.id.clone());
    respond(
        StatusCode::OK,
        page(&title, Some(&session), "/schulen", body),
    )
}

/// A register operation on school `id`, off the async threads (it may wait for the
/// register's lock); a failure as the page answers it.
async fn edit<T: Send + 'static>(
    app: &Shared,
    id: &str,
    op: impl FnOnce(&Files, &str) -> Result<T, schools::Error> + Send + 'static,
) -> Result<T, Response> {
    let (app, id) = (app.clone(), id.to_owned());
    match tokio::task::spawn_blocking(move || op(&app.files, &id)).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => Err(failed(&e)),
        Err(e) => Err(failed(&e)),
    }
}

pub(crate) async fn rotate(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Confirmed>,
) -> Response {
    let (session, config) = match own_change(&app, &headers, &form.csrf, &id) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let rotated = match edit(&app, &id, |files, id| schools::rotate(files, id, None)).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let reloaded = app.daemon.reload().await;
    let audit = app.store().audit(
        &session.staff.login,
        centre_of(&config, &id).as_deref(),
        "Schulpasswort erneuert",
        &id,
    );
    if let Err(e) = audit {
        return failed(&e);
    }
    let credential = rotated.passwords.iter().any(|p| p.credential);
    let body = html! {
        (reload_notice(&reloaded, credential))
        div.notice role="status" { p { "Die Schule " strong { (id) } " hat ein neues Schulpasswort." } }
        @for p in &rotated.passwords {
            @if p.rooms.is_empty() {
                (password_box(p.password.expose()))
            } @else {
                h2 { "Passwort für " (p.rooms.join(", ")) }
                p { span.secret { (p.password.expose()) } }
            }
        }
        (letter_links(&id))
    };
    respond(
        StatusCode::OK,
        page("Neues Schulpasswort", Some(&session), "/schulen", body),
    )
}

pub(crate) async fn confirm_remove(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (session, config) = match context(&app, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(school) = own_school(&config, &session.staff.scope, &id) else {
        return super::not_found().await;
    };
    let body = html! {
        p {
            "Die Schule " strong { (school.name.as_deref().unwrap_or(&school.id)) } " (" (school.id) ") "
            "wird aus dem Verzeichnis entfernt. Laufender Unterricht in ihren Räumen wird beendet, "
            "und die Räume sind danach nicht mehr durch raumwart geschützt."
        }
        form.actions method="post" action={ "/schulen/" (school.id) "/entfernen" } {
            input type="hidden" name="csrf" value=(session.csrf);
            button.danger type="submit" { "Schule endgültig entfernen" }
            a.button.secondary href={ "/schulen/" (school.id) } { "Abbrechen" }
        }
    };
    respond(
        StatusCode::OK,
        page("Schule entfernen?", Some(&session), "/schulen", body),
    )
}

pub(crate) async fn remove(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Confirmed>,
) -> Response {
    let (session, config) = match own_change(&app, &headers, &form.csrf, &id) {
        Ok(c) => c,
        Err(r) => return r,
    };
    // Sessions end first: once the block is gone, the daemon no longer knows the rooms.
    if let Ok(status) = app.daemon.status(&session.staff.scope).await {
        for room in status
            .rooms
            .iter()
            .filter(|r| r.school == id && r.state != "idle")
        {
            if let Err(e) = app.daemon.end_session(&room.room).await {
                tracing::warn!("console: ending a session before removing its school: {e:#}");
            }
        }
    }
    if let Err(r) = edit(&app, &id, schools::remove).await {
        return r;
    }
    let _ = app.daemon.reload().await;
    let audit = app.store().audit(
        &session.staff.login,
        centre_of(&config, &id).as_deref(),
        "Schule entfernt",
        &id,
    );
    if let Err(e) = audit {
        return failed(&e);
    }
    Redirect::to(&format!("/schulen?entfernt={id}")).into_response()
}

pub(crate) async fn letter_html(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let config = match own_context(&app, &headers, &id) {
        Ok((_, config)) => config,
        Err(r) => return r,
    };
    match letter::render(&config, &id, letter::Date::today()) {
        Ok(l) => {
            let mut r = Html(l.html).into_response();
            // The letter carries its styles inline: it is one file, also when saved.
            r.headers_mut().insert(
                "content-security-policy",
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            );
            r
        }
        Err(e) => failed(&e),
    }
}

pub(crate) async fn letter_pdf(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let config = match own_context(&app, &headers, &id) {
        Ok((_, config)) => config,
        Err(r) => return r,
    };
    match letter::pdf(&config, &id, letter::Date::today()) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"zugangsbrief-{id}.pdf\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => failed(&e),
    }
}
