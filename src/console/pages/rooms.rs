//! The live rooms of the account's schools (state, people, session time; never a name),
//! and ending a session after a confirmation.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::{duration, failed, page, respond, scroll_table};
use crate::console::daemon::LiveRoom;
use crate::console::store::Session;
use crate::console::{guard, Shared};

#[derive(Deserialize)]
pub(crate) struct Shown {
    beendet: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Confirmed {
    #[serde(default)]
    csrf: String,
}

fn state_label(state: &str) -> &'static str {
    match state {
        "idle" => "frei",
        "active" => "Unterricht läuft",
        "grace" => "ohne Lehrkraft, endet bald",
        "ending" => "wird zurückgesetzt",
        _ => "unbekannt",
    }
}

/// "2 von 14 Räumen Ihrer Schulen sind belegt."
fn occupancy(busy: usize, all: usize) -> String {
    match (busy, all) {
        (_, 0) => "Ihre Schulen haben noch keine Räume.".into(),
        (0, all) => format!("Keiner der {all} Räume Ihrer Schulen ist belegt."),
        (1, all) => format!("1 von {all} Räumen Ihrer Schulen ist belegt."),
        (busy, all) => format!("{busy} von {all} Räumen Ihrer Schulen sind belegt."),
    }
}

/// The rooms of the account's schools as the daemon reports them, or why not.
async fn own_rooms(app: &Shared, session: &Session) -> Result<Vec<LiveRoom>, String> {
    match app.daemon.status(&session.staff.scope).await {
        Ok(status) if status.synced => Ok(status
            .rooms
            .into_iter()
            .filter(|r| session.staff.scope.covers(r.media_centre.as_deref()))
            .collect()),
        Ok(_) => Err("raumwart ist gerade nicht mit dem Jitsi-Server verbunden.".into()),
        Err(e) => {
            tracing::warn!("console: the daemon's status: {e:#}");
            Err("raumwart ist gerade nicht erreichbar.".into())
        }
    }
}

pub(crate) async fn list(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(shown): Query<Shown>,
) -> Response {
    let session = match guard::session(&app, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let rooms = own_rooms(&app, &session).await;
    let body = html! {
        @if let Some(room) = &shown.beendet {
            div.notice role="status" { p { "Die Sitzung im Raum " strong { (room) } " wird beendet." } }
        }
        @match &rooms {
            Err(why) => div.error role="alert" {
                p { (why) " Die Räume bleiben geschützt; bitte versuchen Sie es später noch einmal." }
            },
            Ok(rooms) => {
                @let busy: Vec<&LiveRoom> = rooms.iter().filter(|r| r.state != "idle" || r.people > 0).collect();
                p { (occupancy(busy.len(), rooms.len())) }
                @if !busy.is_empty() {
                    (scroll_table("Belegte Räume", &["Schule", "Raum", "Zustand", "Personen", "Sitzung seit", "Aktion"], html! {
                        tbody {
                            @for r in &busy {
                                tr {
                                    td data-label="Schule" { (r.school) }
                                    td data-label="Raum" { (r.room) }
                                    td data-label="Zustand" { (state_label(&r.state)) }
                                    td data-label="Personen" { (r.people) }
                                    td data-label="Sitzung seit" { (r.session_age_seconds.map(duration).unwrap_or_else(|| "–".into())) }
                                    td data-label="Aktion" { a href={ "/raeume/" (r.room) "/beenden" } { "Sitzung beenden" span.sr { " in " (r.room) } } }
                                }
                            }
                        }
                    }))
                }
            }
        }
        // The page does not update itself (no script): the way to the current state.
        p { a.button.secondary href="/" { "Aktualisieren" } }
    };
    respond(StatusCode::OK, page("Räume", Some(&session), "/", body))
}

pub(crate) async fn confirm(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(room): Path<String>,
) -> Response {
    let session = match guard::session(&app, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(live) = find(&app, &session, &room).await else {
        return super::not_found().await;
    };
    let body = html! {
        p {
            "Alle Personen im Raum " strong { (live.room) } " (" (live.school) ") werden "
            "hinausgeleitet, und der Raum wird auf das Schulpasswort zurückgesetzt. "
            (match live.people {
                0 => "Im Raum ist gerade niemand.".to_owned(),
                1 => "Im Raum ist gerade 1 Person.".to_owned(),
                n => format!("Im Raum sind gerade {n} Personen."),
            })
        }
        form.actions method="post" action={ "/raeume/" (live.room) "/beenden" } {
            input type="hidden" name="csrf" value=(session.csrf);
            button.danger type="submit" { "Sitzung jetzt beenden" }
            a.button.secondary href="/" { "Abbrechen" }
        }
    };
    respond(
        StatusCode::OK,
        page("Sitzung beenden?", Some(&session), "/", body),
    )
}

pub(crate) async fn end(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(room): Path<String>,
    Form(form): Form<Confirmed>,
) -> Response {
    let session = match guard::change(&app, &headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(live) = find(&app, &session, &room).await else {
        return super::not_found().await;
    };
    if let Err(e) = app.daemon.end_session(&live.room).await {
        return failed(&format!("ending a session: {e:#}"));
    }
    let audit = app.store().audit(
        &session.staff.login,
        live.media_centre.as_deref(),
        "Sitzung beendet",
        &live.room,
    );
    if let Err(e) = audit {
        return failed(&e);
    }
    Redirect::to(&format!("/?beendet={}", live.room)).into_response()
}

/// A room of the account's schools, by its node.
async fn find(app: &Shared, session: &Session, room: &str) -> Option<LiveRoom> {
    own_rooms(app, session)
        .await
        .ok()?
        .into_iter()
        .find(|r| r.room == room)
}
