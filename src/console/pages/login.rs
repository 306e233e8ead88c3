//! Logging in and out. Failed logins are counted per login name and per address; past a
//! few, each further attempt waits longer ([`auth::wait_after`]) and is refused unread.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{failed, page, respond};
use crate::console::guard::{self, COOKIE};
use crate::console::store::{self, Scope, Staff};
use crate::console::{auth, Shared};

/// The login form's own CSRF cookie (double submit: there is no session yet).
const FORM_COOKIE: &str = "raumwart_anmeldung";

#[derive(Deserialize)]
pub(crate) struct Login {
    login: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
pub(crate) struct Csrf {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn form(State(app): State<Shared>, headers: HeaderMap) -> Response {
    if guard::session(&app, &headers).is_ok() {
        return Redirect::to("/").into_response();
    }
    login_page(&headers, StatusCode::OK, None, "")
}

fn login_page(
    headers: &HeaderMap,
    status: StatusCode,
    problem: Option<&str>,
    login: &str,
) -> Response {
    let token = auth::token();
    let mut response = respond(
        status,
        page("Anmelden", None, "", body(&token, problem, login)),
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        guard::set_cookie(headers, FORM_COOKIE, Some(&token)),
    );
    response
}

fn body(csrf: &str, problem: Option<&str>, login: &str) -> Markup {
    html! {
        @if let Some(p) = problem {
            div.error role="alert" { p { (p) } }
        }
        p { "Melden Sie sich mit dem Zugang an, den Ihnen der Betreiber gegeben hat." }
        form.stack method="post" action="/anmelden" {
            input type="hidden" name="csrf" value=(csrf);
            div {
                label for="login" { "Anmeldename" }
                input id="login" name="login" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value=(login);
            }
            div {
                label for="password" { "Passwort" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
            }
            div { button type="submit" { "Anmelden" } }
        }
    }
}

pub(crate) async fn submit(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Login>,
) -> Response {
    let expected = guard::cookie(&headers, FORM_COOKIE).unwrap_or_default();
    if expected.is_empty() || !auth::same(&form.csrf, expected) || !guard::same_origin(&headers) {
        return guard::forbidden();
    }
    // Logins are lower case (`console user add` takes no other): typed capitals count.
    let login = form.login.trim().to_lowercase();
    let keys = [
        format!("login:{}", login.to_lowercase()),
        format!("addr:{}", guard::client(peer, &headers)),
    ];
    match wait_left(&app, &keys) {
        Err(e) => return failed(&e),
        Ok(Some(left)) => {
            let seconds = left.as_secs().max(1);
            let text = format!(
                "Zu viele Fehlversuche. Bitte warten Sie {seconds} Sekunden und versuchen \
                 Sie es dann noch einmal."
            );
            let mut r = login_page(&headers, StatusCode::TOO_MANY_REQUESTS, Some(&text), &login);
            r.headers_mut()
                .insert(header::RETRY_AFTER, seconds.to_string().parse().unwrap());
            return r;
        }
        Ok(None) => {}
    }
    let found = match app.store().staff(&login) {
        Ok(found) => found,
        Err(e) => return failed(&e),
    };
    let password = form.password;
    let staff = auth::check(found, password).await;
    let Some(staff) = staff else {
        let store = app.store();
        for key in &keys {
            if let Err(e) = store.count_failure(key, auth::FORGET_FAILURES) {
                return failed(&e);
            }
        }
        tracing::info!("console: a login failed");
        let text = "Anmeldename oder Passwort ist falsch.";
        return login_page(&headers, StatusCode::UNAUTHORIZED, Some(text), &login);
    };
    match start_session(&app, &staff, &keys) {
        Ok(token) => {
            let mut r = Redirect::to("/").into_response();
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                guard::set_cookie(&headers, COOKIE, Some(&token)),
            );
            h.append(
                header::SET_COOKIE,
                guard::set_cookie(&headers, FORM_COOKIE, None),
            );
            r
        }
        Err(e) => failed(&e),
    }
}

/// How much longer the most throttled of `keys` must wait, if at all.
fn wait_left(app: &Shared, keys: &[String]) -> Result<Option<Duration>, store::Error> {
    let store = app.store();
    let now = store::now();
    let mut longest = None;
    for key in keys {
        let (failures, last) = store.failures(key, auth::FORGET_FAILURES)?;
        let until = last.saturating_add(auth::wait_after(failures).as_secs() as i64);
        if until > now {
            longest = longest.max(Some(Duration::from_secs((until - now) as u64)));
        }
    }
    Ok(longest)
}

fn start_session(app: &Shared, staff: &Staff, keys: &[String]) -> Result<String, store::Error> {
    let store = app.store();
    // The address keeps its count: one good account must not reset guessing at others.
    store.clear_failures(&keys[0])?;
    let token = auth::token();
    store.create_session(&auth::sha256(&token), &staff.login, &auth::token())?;
    let centre = match &staff.scope {
        Scope::MediaCentre(c) => c.as_deref(),
        Scope::Provider => None,
    };
    store.audit(&staff.login, centre, "angemeldet", "")?;
    Ok(token)
}

pub(crate) async fn logout(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Csrf>,
) -> Response {
    if let Err(r) = guard::change(&app, &headers, &form.csrf) {
        return r;
    }
    if let Some(token) = guard::cookie(&headers, COOKIE) {
        if let Err(e) = app.store().end_session(&auth::sha256(token)) {
            return failed(&e);
        }
    }
    let mut r = Redirect::to("/anmelden").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        guard::set_cookie(&headers, COOKIE, None),
    );
    r
}
