//! The console's pages, one module each: the handler and its markup side by side. The
//! layout, the messages and the stylesheet every page shares are here.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::store::{Scope, Session};
use crate::config::Config;

pub(crate) mod audit;
pub(crate) mod import;
pub(crate) mod login;
pub(crate) mod rooms;
pub(crate) mod schools;

/// The navigation's entries: path and label.
const NAV: [(&str, &str); 4] = [
    ("/", "Räume"),
    ("/schulen", "Schulen"),
    ("/import", "Import"),
    ("/protokoll", "Protokoll"),
];

/// A whole page: `current` is the navigation entry it belongs to.
pub(crate) fn page(title: &str, session: Option<&Session>, current: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="de" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – raumwart" }
                link rel="stylesheet" href="/konsole.css";
            }
            body {
                a.skip href="#inhalt" { "Zum Inhalt springen" }
                header {
                    p.brand { "raumwart · Konsole der Medienzentren" }
                    @if let Some(s) = session {
                        nav aria-label="Hauptnavigation" {
                            ul {
                                @for (href, label) in NAV {
                                    li {
                                        @if href == current {
                                            a href=(href) aria-current="page" { (label) }
                                        } @else {
                                            a href=(href) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                        form.logout method="post" action="/abmelden" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            span { "Angemeldet: " (s.staff.login) " (" (scope_label(&s.staff.scope)) ")" }
                            " "
                            button type="submit" { "Abmelden" }
                        }
                    }
                }
                main id="inhalt" {
                    h1 { (title) }
                    (body)
                }
                footer {
                    p { "raumwart speichert keine Daten von Schülerinnen und Schülern." }
                }
            }
        }
    }
}

pub(crate) fn scope_label(scope: &Scope) -> String {
    match scope {
        Scope::Provider => "Betreiber, alle Medienzentren".into(),
        Scope::MediaCentre(Some(id)) => format!("Medienzentrum {id}"),
        Scope::MediaCentre(None) => "Medienzentrum".into(),
    }
}

pub(crate) fn respond(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// A page that only says something (an error, a refusal).
pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let body = html! {
        p { (text) }
        p { a href="/" { "Zur Startseite" } }
    };
    respond(status, page(title, None, "", body))
}

/// Something on the server side failed: logged, and said without details.
pub(crate) fn failed(e: &dyn std::fmt::Display) -> Response {
    tracing::warn!("console: {e}");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Fehler",
        "Das hat nicht geklappt. Bitte versuchen Sie es später noch einmal oder wenden Sie \
         sich an den Betreiber.",
    )
}

pub(crate) async fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Nicht gefunden",
        "Diese Seite gibt es nicht, oder sie gehört nicht zu Ihrem Medienzentrum.",
    )
}

/// A school of the account's own media centre(s), or None: another media centre's
/// school is answered like one that does not exist.
pub(crate) fn own_school<'c>(
    config: &'c Config,
    scope: &Scope,
    id: &str,
) -> Option<&'c crate::config::School> {
    config
        .schools
        .iter()
        .find(|s| s.id == id)
        .filter(|s| scope.covers(config.media_centre_id(&s.id)))
}

/// The `[[media_centre]]` blocks an account may work for: (id, name); empty with the
/// one `[media_centre]` table.
pub(crate) fn centres(config: &Config, scope: &Scope) -> Vec<(String, String)> {
    config
        .media_centres
        .iter()
        .filter_map(|m| Some((m.id.clone()?, m.name.clone())))
        .filter(|(id, _)| scope.covers(Some(id)))
        .collect()
}

/// The media centre a new school goes to: the account's own, or the provider's choice
/// among the blocks (Err when none was chosen).
pub(crate) fn centre_for(
    config: &Config,
    session: &Session,
    chosen: &str,
) -> Result<Option<String>, ()> {
    match &session.staff.scope {
        Scope::MediaCentre(own) => Ok(own.clone()),
        Scope::Provider => {
            let ids = centres(config, &Scope::Provider);
            match ids.iter().find(|(i, _)| i == chosen) {
                Some((i, _)) => Ok(Some(i.clone())),
                None if ids.is_empty() => Ok(None),
                None => Err(()),
            }
        }
    }
}

/// The media centre a change is recorded under.
pub(crate) fn centre_of(config: &Config, school: &str) -> Option<String> {
    config.media_centre_id(school).map(str::to_owned)
}

/// A table with a header row of `columns` and the `tbody` `rows`, in a box of its own
/// that scrolls sideways where it does not fit. The box is a named region the keyboard
/// can reach, so it can be scrolled without a mouse also when no link inside takes the
/// focus (WCAG 2.1.1); the caption names the table for screen readers. On a phone each
/// row is a card, its cells named by their `data-label` (the stylesheet).
pub(crate) fn scroll_table(caption: &str, columns: &[&str], rows: Markup) -> Markup {
    html! {
        div.table role="region" aria-label=(caption) tabindex="0" {
            table {
                caption.sr { (caption) }
                thead { tr { @for c in columns { th scope="col" { (c) } } } }
                (rows)
            }
        }
    }
}

/// Seconds as "1 Std. 5 Min." for session times.
pub(crate) fn duration(seconds: u64) -> String {
    match (seconds / 3600, seconds / 60 % 60) {
        (0, 0) => "unter 1 Min.".into(),
        (0, m) => format!("{m} Min."),
        (h, m) => format!("{h} Std. {m} Min."),
    }
}

/// "1 Schule", "2 Schulen".
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// What a staff member reads when a change of the register failed: German, without
/// the file names and details the library's message has (those go to the log).
pub(crate) fn register_problem(e: &crate::schools::Error) -> String {
    use crate::schools::{import, Error};
    tracing::warn!("console: {e}");
    match e {
        Error::Busy { .. } => "Gerade wird das Verzeichnis an anderer Stelle geändert. Bitte \
                               versuchen Sie es gleich noch einmal."
            .into(),
        Error::Register(import::Error::Column { column, .. }) => format!(
            "Die erste Zeile der Tabelle hat keine Spalte „{column}“. Bitte geben Sie die \
             Überschriften so an, wie sie dort stehen."
        ),
        Error::Register(import::Error::Format { .. }) => "Diese Datei lässt sich nicht als \
            Tabelle lesen (beschädigt, verschlüsselt oder nicht im Format ihrer Endung)."
            .into(),
        _ => "Es wurde nichts geändert. Bitte wenden Sie sich an den Betreiber.".into(),
    }
}

pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("konsole.css"),
    )
        .into_response()
}
