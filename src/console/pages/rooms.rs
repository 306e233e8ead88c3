//! The live rooms of the account's schools (state, people, session time; never a name),
//! and ending a session after a confirmation.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::{duration, failed, page, respond};
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

/// The rooms of the account's schools as the daemon reports them, or why not.
async fn own_rooms(app: &Shared, session: &Session) -> Result<Vec<LiveRoom>, String> {
    match app.daemon.status().await {
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
                p { (busy.len()) " von " (rooms.len()) " Räumen Ihrer Schulen sind belegt." }
                @if !busy.is_empty() {
                    div.table {
                        table {
                            caption.skip { "Belegte Räume" }
                            thead { tr {
                                th scope="col" { "Schule" }
                                th scope="col" { "Raum" }
                                th scope="col" { "Zustand" }
                                th scope="col" { "Personen" }
                                th scope="col" { "Sitzung seit" }
                                th scope="col" { "Aktion" }
                            } }
                            tbody {
                                @for r in &busy {
                                    tr {
                                        td { (r.school) }
                                        td { (r.room) }
                                        td { (state_label(&r.state)) }
                                        td { (r.people) }
                                        td { (r.session_age_seconds.map(duration).unwrap_or_else(|| "–".into())) }
                                        td { a href={ "/raeume/" (r.room) "/beenden" } { "Sitzung beenden" span.skip { " in " (r.room) } } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
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
            "Im Raum sind gerade " (live.people) " Personen."
        }
        form method="post" action={ "/raeume/" (live.room) "/beenden" } {
            input type="hidden" name="csrf" value=(session.csrf);
            button.danger type="submit" { "Sitzung jetzt beenden" }
            " "
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
