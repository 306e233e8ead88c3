//! The audit log of the account's media centre: who changed what, when.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;

use super::{failed, page, respond, scroll_table};
use crate::console::{guard, Shared};
use crate::schools::letter::Date;

/// The most entries the page shows.
const SHOWN: usize = 500;

pub(crate) async fn list(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let session = match guard::session(&app, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let entries = match app.store().audit_log(&session.staff.scope, SHOWN) {
        Ok(e) => e,
        Err(e) => return failed(&e),
    };
    let days = app.settings.audit_retention.as_secs() / 86_400;
    let body = html! {
        p { "Einträge werden nach " (days) " Tagen gelöscht. Zeiten in UTC." }
        @if entries.is_empty() {
            p { "Noch keine Einträge." }
        } @else {
            (scroll_table("Protokoll", &["Zeit", "Konto", "Medienzentrum", "Aktion", "Betrifft"], html! {
                tbody { @for e in &entries {
                    tr {
                        td data-label="Zeit" { (time(e.at)) }
                        td data-label="Konto" { (e.login) }
                        td data-label="Medienzentrum" { (e.media_centre.as_deref().unwrap_or("–")) }
                        td data-label="Aktion" { (capitalized(&e.action)) }
                        td data-label="Betrifft" { (e.target) }
                    }
                } }
            }))
        }
    };
    respond(
        StatusCode::OK,
        page("Protokoll", Some(&session), "/protokoll", body),
    )
}

/// "angemeldet" as the first word of a table cell: "Angemeldet".
fn capitalized(action: &str) -> String {
    let mut chars = action.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Seconds since the epoch as "06.12.2026 22:15".
fn time(at: i64) -> String {
    let date = Date::from_days(at.div_euclid(86_400));
    let second = at.rem_euclid(86_400);
    format!("{date} {:02}:{:02}", second / 3600, second / 60 % 60)
}
