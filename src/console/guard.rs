//! What every request passes: the session cookie, the CSRF token of a form, the origin
//! of a change, and the headers every answer carries.

use std::net::SocketAddr;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::store::Session;
use super::{auth, App, LONGEST_SESSION};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "raumwart_konsole";

/// The logged-in session of a request; without one, the way to the login page.
pub(crate) fn session(app: &App, headers: &HeaderMap) -> Result<Session, Response> {
    let to_login = || Redirect::to("/anmelden").into_response();
    let token = cookie(headers, COOKIE).ok_or_else(to_login)?;
    let found = app
        .store()
        .session(
            &auth::sha256(token),
            app.settings.idle_timeout,
            LONGEST_SESSION,
        )
        .map_err(|e| super::pages::failed(&e))?;
    found.ok_or_else(to_login)
}

/// A change is taken only with the session's CSRF token and, when the browser names
/// one, from this site's own origin.
pub(crate) fn change(app: &App, headers: &HeaderMap, csrf: &str) -> Result<Session, Response> {
    let session = session(app, headers)?;
    if !auth::same(csrf, &session.csrf) || !same_origin(headers) {
        return Err(forbidden());
    }
    Ok(session)
}

pub(crate) fn forbidden() -> Response {
    super::pages::message(
        StatusCode::FORBIDDEN,
        "Nicht erlaubt",
        "Diese Anfrage wurde abgelehnt. Bitte laden Sie die Seite neu und versuchen Sie es \
         noch einmal.",
    )
}

/// A browser sends `Origin` with every POST; another site's is refused, a missing one
/// (older browsers, scripts with the token) is left to the token.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    host.is_some() && origin_host == host
}

/// One cookie's value.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The session cookie: HttpOnly, SameSite=Strict, Secure when the proxy says the
/// browser came over TLS. `None` clears it.
pub(crate) fn set_cookie(headers: &HeaderMap, name: &str, value: Option<&str>) -> HeaderValue {
    let secure = match forwarded_https(headers) {
        true => "; Secure",
        false => "",
    };
    let text = match value {
        Some(v) => format!("{name}={v}; Path=/; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).expect("a token is a header value")
}

fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// The browser's address: the proxy's `X-Real-IP` when the request came from loopback
/// (the proxy's side), else the peer itself.
pub(crate) fn client(peer: SocketAddr, headers: &HeaderMap) -> String {
    let real = headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok());
    match (peer.ip().is_loopback(), real) {
        (true, Some(ip)) => ip.to_string(),
        _ => peer.ip().to_string(),
    }
}

/// Headers on every answer: no caching of pages with passwords, no framing, no
/// resource from elsewhere, no script at all.
pub(crate) async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, name: &'static str, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    if !h.contains_key("content-security-policy") {
        set(
            h,
            "content-security-policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        );
    }
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "same-origin");
    set(h, "x-frame-options", "DENY");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn another_sites_origin_is_refused() {
        let own = headers(&[
            ("host", "konsole.kmz.de"),
            ("origin", "https://konsole.kmz.de"),
        ]);
        assert!(same_origin(&own));
        let other = headers(&[("host", "konsole.kmz.de"), ("origin", "https://evil.de")]);
        assert!(!same_origin(&other));
        let null = headers(&[("host", "konsole.kmz.de"), ("origin", "null")]);
        assert!(!same_origin(&null));
        assert!(same_origin(&headers(&[("host", "konsole.kmz.de")])));
    }

    #[test]
    fn cookies_are_found_by_their_whole_name() {
        let h = headers(&[("cookie", "a=1; raumwart_konsole_x=2; raumwart_konsole=3")]);
        assert_eq!(cookie(&h, COOKIE), Some("3"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn the_proxys_address_counts_only_from_loopback() {
        let h = headers(&[("x-real-ip", "203.0.113.7")]);
        let local: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let remote: SocketAddr = "198.51.100.2:4000".parse().unwrap();
        assert_eq!(client(local, &h), "203.0.113.7");
        assert_eq!(client(remote, &h), "198.51.100.2");
        assert_eq!(client(local, &HeaderMap::new()), "127.0.0.1");
    }

    #[test]
    fn the_cookie_is_secure_behind_tls() {
        let tls = headers(&[("x-forwarded-proto", "https")]);
        let c = set_cookie(&tls, COOKIE, Some("t"));
        assert_eq!(
            c.to_str().unwrap(),
            "raumwart_konsole=t; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        let plain = set_cookie(&HeaderMap::new(), COOKIE, None);
        assert!(!plain.to_str().unwrap().contains("Secure"));
    }
}
