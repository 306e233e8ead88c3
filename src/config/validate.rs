//! The validator: the raw file turned into a [`Config`], every problem collected with
//! its file, line and column.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::raw::{
    RawConfig, RawConsole, RawHttp, RawJitsi, RawMediaCentre, RawMediaCentres, RawPolicy,
    RawRegister, RawRegisterFile, RawRoom, RawSchool, RawXmpp,
};
use super::SECRET_CREDENTIAL;
use super::{is_id, parse_duration, password, room_names};
use super::{
    Config, Console, Credentials, Error, Http, Jitsi, MediaCentre, Policy, Problem, Register, Room,
    School, Secret, Shard, Xmpp, MIN_TOKEN, REGISTER_CACHE,
};

pub(super) struct Validator<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    pub(super) base: &'a Path,
    pub(super) credentials: Option<&'a dyn Credentials>,
    pub(super) problems: Vec<Problem>,
    pub(super) read_files: Vec<PathBuf>,
    /// `read_files` as a set: a register can name thousands of password files.
    pub(super) read_seen: HashSet<PathBuf>,
}

impl<'a> Validator<'a> {
    pub(super) fn new(
        file: &'a Path,
        text: &'a str,
        base: &'a Path,
        credentials: Option<&'a dyn Credentials>,
    ) -> Self {
        Validator {
            file,
            text,
            base,
            credentials,
            problems: vec![],
            read_files: vec![],
            read_seen: HashSet::new(),
        }
    }

    pub(super) fn problem(&mut self, span: &Range<usize>, message: String) {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line,
            column,
            message,
        });
    }

    pub(super) fn finish(&mut self) -> Error {
        let mut problems = std::mem::take(&mut self.problems);
        problems.sort_by_key(|p| (p.line, p.column));
        Error::Invalid { problems }
    }

    pub(super) fn config(&mut self, raw: RawConfig) -> Config {
        let xmpp = self.xmpp(raw.xmpp);
        let policy = self.policy(raw.policy);
        let http = self.http(raw.http);
        let console = self.console(raw.console);
        let jitsi = raw.jitsi.map(|j| self.jitsi(j));
        let register = raw.register.map(|r| self.register(r));
        let (media_centres, schools) = match &register {
            None => {
                let centres = self.media_centres(raw.media_centre);
                let schools = self.schools(raw.schools, &centres);
                (centres, schools)
            }
            Some(register) => {
                if let Some(school) = raw.schools.first() {
                    self.problem(
                        &school.span(),
                        "this raumwart follows a register ([register] follow): its schools \
                         come from there; remove the [[school]] blocks"
                            .into(),
                    );
                }
                if raw.media_centre.is_some() {
                    let at = self.text.find("media_centre]").unwrap_or(0);
                    self.problem(
                        &(at..at),
                        "this raumwart follows a register ([register] follow): its media \
                         centres come from there; remove them here"
                            .into(),
                    );
                }
                self.cached_register(&register.cache)
            }
        };
        Config {
            xmpp,
            policy,
            http,
            console,
            register,
            jitsi,
            media_centres,
            schools,
            read_files: std::mem::take(&mut self.read_files),
        }
    }

    fn media_centres(&mut self, raw: Option<RawMediaCentres>) -> Vec<MediaCentre> {
        let listed = match raw {
            None => return vec![],
            Some(RawMediaCentres::One(one)) => {
                if let Some(id) = &one.id {
                    self.problem(
                        &id.span(),
                        "the one [media_centre] table has no id; media centres with ids are \
                         [[media_centre]] blocks"
                            .into(),
                    );
                }
                return vec![self.media_centre(None, one)];
            }
            Some(RawMediaCentres::Several(listed)) => listed,
        };
        let mut ids: Vec<String> = vec![];
        let mut centres = vec![];
        for centre in listed {
            let span = centre.span();
            let raw = centre.into_inner();
            let id = match &raw.id {
                None => {
                    self.problem(
                        &span,
                        "a [[media_centre]] block needs an id, which its schools name".into(),
                    );
                    String::new()
                }
                Some(id) => {
                    let text = id.get_ref().clone();
                    if !is_id(&text) {
                        self.problem(
                            &id.span(),
                            format!(
                                "media centre id {text:?} may use only a-z, 0-9, '-', '_' and '.'"
                            ),
                        );
                    } else if ids.contains(&text) {
                        self.problem(
                            &id.span(),
                            format!("media centre id {text:?} is used twice"),
                        );
                    }
                    text
                }
            };
            ids.push(id.clone());
            centres.push(self.media_centre(Some(id), raw));
        }
        centres
    }

    /// The media centre of a school: the one it names, or the only one there is.
    fn school_media_centre(
        &mut self,
        school: &str,
        school_span: &Range<usize>,
        named: Option<&Spanned<String>>,
        centres: &[MediaCentre],
    ) -> Option<String> {
        let mut ids: Vec<&str> = vec![];
        // An empty id is a block without one, reported already.
        for id in centres.iter().filter_map(|m| m.id.as_deref()) {
            if !id.is_empty() && !ids.contains(&id) {
                ids.push(id);
            }
        }
        let quoted = || {
            ids.iter()
                .map(|id| format!("{id:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(named) = named else {
            return match ids.as_slice() {
                [] => None,
                [only] => Some((*only).to_owned()),
                _ => {
                    self.problem(
                        school_span,
                        format!(
                            "school {school:?} names no media centre: with several, set media_centre to one of {}",
                            quoted()
                        ),
                    );
                    None
                }
            };
        };
        let wanted = named.get_ref();
        if ids.contains(&wanted.as_str()) {
            return Some(wanted.clone());
        }
        let listed = centres.iter().any(|m| m.id.is_some());
        let message = if listed && !ids.is_empty() {
            format!(
                "there is no media centre {wanted:?}; the media centres are {}",
                quoted()
            )
        } else if listed {
            format!("there is no media centre {wanted:?}")
        } else if !centres.is_empty() {
            format!(
                "media centre {wanted:?}: the [media_centre] table has no id; to name media \
                 centres, write them as [[media_centre]] blocks with an id each"
            )
        } else {
            format!("there is no media centre {wanted:?}: declare it in a [[media_centre]] block")
        };
        self.problem(&named.span(), message);
        None
    }

    fn jitsi(&mut self, raw: RawJitsi) -> Jitsi {
        let url = raw.url.get_ref();
        if !is_web_address(url) {
            self.problem(
                &raw.url.span(),
                format!(
                    "url {url:?} is not the address of the Jitsi web app, like \"https://meet.kmz-beispiel.de/\""
                ),
            );
        }
        let mut url = raw.url.into_inner();
        if !url.ends_with('/') {
            url.push('/');
        }
        Jitsi { url }
    }

    fn media_centre(&mut self, id: Option<String>, raw: RawMediaCentre) -> MediaCentre {
        let mut line = |field: &Option<Spanned<String>>, what: &str| {
            if let Some(value) = field {
                let v = value.get_ref();
                if v.trim().is_empty() || v.chars().any(char::is_control) {
                    self.problem(
                        &value.span(),
                        format!("{what} must be one line of text, not empty"),
                    );
                }
            }
        };
        line(&Some(raw.name.clone()), "name");
        line(&raw.address, "address");
        line(&raw.phone, "phone");
        line(&raw.mail, "mail");
        if let Some(phone) = &raw.phone {
            let p = phone.get_ref();
            let digits = p.chars().filter(char::is_ascii_digit).count();
            if digits < 3
                || !p
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-/()".contains(c))
            {
                self.problem(
                    &phone.span(),
                    format!("phone {p:?} is not a phone number, like \"07000 123456-0\""),
                );
            }
        }
        if let Some(mail) = &raw.mail {
            let m = mail.get_ref();
            let ok = m.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !local.contains(char::is_whitespace)
                    && domain.contains('.')
                    && is_domain(domain)
            });
            if !ok {
                self.problem(
                    &mail.span(),
                    format!("mail {m:?} is not a mail address, like \"medienzentrum@kreis-beispiel.de\""),
                );
            }
        }
        MediaCentre {
            id,
            name: raw.name.into_inner(),
            address: raw.address.map(Spanned::into_inner),
            phone: raw.phone.map(Spanned::into_inner),
            mail: raw.mail.map(Spanned::into_inner),
        }
    }

    fn xmpp(&mut self, raw: RawXmpp) -> Xmpp {
        if !is_host_port(raw.server.get_ref()) {
            self.problem(
                &raw.server.span(),
                "server must be a host and port, like \"127.0.0.1:5347\" or \"localhost:5347\""
                    .into(),
            );
        }
        for field in [&raw.component, &raw.muc]
            .into_iter()
            .chain(raw.lobby_muc.as_ref())
        {
            if !is_domain(field.get_ref()) {
                self.problem(
                    &field.span(),
                    format!("{:?} is not a domain name", field.get_ref()),
                );
            }
        }
        let secret = match &raw.secret_file {
            Some(file) => self.read_secret(file),
            None => match self.credentials {
                Some(dir) => {
                    let span = raw.component.span();
                    self.read_secret_at(&dir.path(SECRET_CREDENTIAL), &span)
                }
                None => {
                    self.problem(
                        &raw.component.span(),
                        "no secret_file, and no $CREDENTIALS_DIRECTORY to find the component secret in"
                            .into(),
                    );
                    Secret::new("")
                }
            },
        };
        Xmpp {
            server: raw.server.into_inner(),
            component: raw.component.into_inner(),
            secret,
            muc: raw.muc.into_inner(),
            lobby_muc: raw.lobby_muc.map(Spanned::into_inner),
        }
    }

    fn policy(&mut self, raw: RawPolicy) -> Policy {
        let defaults = Policy::default();
        for jid in &raw.service_jids {
            if !is_service_jid(jid.get_ref()) {
                self.problem(
                    &jid.span(),
                    format!("{:?} is neither a bare JID nor a domain", jid.get_ref()),
                );
            }
        }
        let grace_period = match &raw.grace_period {
            None => defaults.grace_period,
            Some(text) => parse_duration(text.get_ref()).unwrap_or_else(|message| {
                self.problem(&text.span(), message);
                defaults.grace_period
            }),
        };
        Policy {
            service_jids: raw
                .service_jids
                .into_iter()
                .map(|j| j.into_inner().to_lowercase())
                .collect(),
            unmanaged_rooms: raw.unmanaged_rooms.unwrap_or(defaults.unmanaged_rooms),
            grace_period,
            end_message: raw.end_message.map_or(defaults.end_message, |m| {
                if let Some(c) = m.get_ref().chars().find(|&c| !is_xml_char(c)) {
                    self.problem(
                        &m.span(),
                        format!("end_message holds {c:?}, which XML cannot carry"),
                    );
                }
                m.into_inner()
            }),
        }
    }

    pub(super) fn http(&mut self, raw: RawHttp) -> Http {
        let default: SocketAddr = ([127, 0, 0, 1], 9469).into();
        let listen = match raw.listen {
            None => default,
            Some(text) => self.address(text, 9469),
        };
        Http { listen }
    }

    fn address(&mut self, text: Spanned<String>, port: u16) -> SocketAddr {
        text.get_ref().parse().unwrap_or_else(|_| {
            let message = format!("listen must be an address and port, like \"127.0.0.1:{port}\"");
            self.problem(&text.span(), message);
            ([127, 0, 0, 1], port).into()
        })
    }

    fn console(&mut self, raw: RawConsole) -> Console {
        let listen = match raw.listen {
            None => ([127, 0, 0, 1], 9470).into(),
            Some(text) => self.address(text, 9470),
        };
        let shards = raw
            .shards
            .into_iter()
            .map(|shard| Shard {
                name: shard.name.into_inner(),
                token: self.read_token(&shard.token_file),
            })
            .collect();
        let mut duration = |text: Option<Spanned<String>>, default: Duration, least: Duration| {
            let Some(text) = text else { return default };
            match parse_duration(text.get_ref()) {
                Ok(d) if d >= least => d,
                Ok(_) => {
                    let message = format!("must be at least {}s", least.as_secs());
                    self.problem(&text.span(), message);
                    default
                }
                Err(message) => {
                    self.problem(&text.span(), message);
                    default
                }
            }
        };
        let minute = Duration::from_secs(60);
        let day = Duration::from_secs(86_400);
        Console {
            shards,
            listen,
            idle_timeout: duration(raw.idle_timeout, 30 * minute, minute),
            audit_retention: duration(raw.audit_retention, 365 * day, day),
            database: raw
                .database
                .map_or_else(|| "console.sqlite".into(), |d| d.into_inner().into()),
        }
    }

    fn register(&mut self, raw: RawRegister) -> Register {
        let follow = raw.follow.get_ref();
        let parts = follow
            .strip_prefix("http://")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(authority, _)| is_host_port(authority));
        let (authority, path) = match parts {
            Some((authority, path)) => (authority.to_owned(), format!("/{path}")),
            None => {
                self.problem(
                    &raw.follow.span(),
                    format!(
                        "follow {follow:?} is not like \"http://127.0.0.1:9480/register\" \
                         (plain HTTP to this host's TLS proxy, with host, port and path)"
                    ),
                );
                (String::new(), String::new())
            }
        };
        let cache = match &raw.cache {
            Some(c) => self.base.join(c.get_ref()),
            None => PathBuf::from(REGISTER_CACHE),
        };
        Register {
            authority,
            path,
            token: self.read_token(&raw.token_file),
            cache,
        }
    }

    /// A register token: a secret file of at least [`MIN_TOKEN`] characters.
    fn read_token(&mut self, file: &Spanned<String>) -> Secret {
        let before = self.problems.len();
        let token = self.read_secret(file);
        if self.problems.len() == before && token.expose().chars().count() < MIN_TOKEN {
            self.problem(
                &file.span(),
                format!(
                    "the token in {} is shorter than {MIN_TOKEN} characters; \
                     `raumwart password` makes a strong one",
                    file.get_ref()
                ),
            );
        }
        token
    }

    /// The media centres and schools of a follower's cached register, validated like
    /// the config's own and located in that file. No cache yet: none (the daemon fetches
    /// it before it starts).
    fn cached_register(&mut self, path: &Path) -> (Vec<MediaCentre>, Vec<School>) {
        let Ok(text) = std::fs::read_to_string(path) else {
            return (vec![], vec![]);
        };
        let mut v = Validator::new(path, &text, path.parent().unwrap_or(Path::new(".")), None);
        let found = match toml::from_str::<RawRegisterFile>(&text) {
            Ok(raw) => {
                let centres = v.media_centres(raw.media_centre);
                let schools = v.schools(raw.schools, &centres);
                (centres, schools)
            }
            Err(e) => {
                v.problem(&e.span().unwrap_or(0..0), e.message().trim_end().into());
                (vec![], vec![])
            }
        };
        self.problems.append(&mut v.problems);
        self.read_files.append(&mut v.read_files);
        found
    }

    fn schools(&mut self, raw: Vec<Spanned<RawSchool>>, centres: &[MediaCentre]) -> Vec<School> {
        let mut ids: HashMap<String, ()> = HashMap::new();
        // node -> (configured name, school id)
        let mut nodes_seen: HashMap<String, (String, String)> = HashMap::new();
        let mut schools = vec![];
        for spanned in raw {
            let school_span = spanned.span();
            let raw = spanned.into_inner();
            let id = raw.id.get_ref().clone();
            if !is_id(&id) {
                self.problem(
                    &raw.id.span(),
                    format!("school id {id:?} may use only a-z, 0-9, '-', '_' and '.'"),
                );
            }
            if ids.insert(id.clone(), ()).is_some() {
                self.problem(&raw.id.span(), format!("school id {id:?} is used twice"));
            }
            if raw.rooms.is_empty() {
                self.problem(&school_span, format!("school {id:?} has no rooms"));
            }
            let media_centre =
                self.school_media_centre(&id, &school_span, raw.media_centre.as_ref(), centres);
            let rooms: Vec<(Range<usize>, String, Option<Spanned<String>>)> = raw
                .rooms
                .into_iter()
                .map(|room| {
                    let span = room.span();
                    match room.into_inner() {
                        RawRoom::Name(name) => (span, name, None),
                        RawRoom::Table(t) => (span, t.name, t.password_file),
                    }
                })
                .collect();
            // What an attacker would try first: the school's and its rooms' own names.
            let mut context: Vec<String> = vec![id.clone()];
            context.extend(raw.name.clone());
            for (_, name, _) in &rooms {
                context.push(name.clone());
                if let Ok(nodes) = room_names::nodes(name) {
                    context.extend(nodes.distinct().into_iter().map(str::to_owned));
                }
            }
            let context: Vec<&str> = context.iter().map(String::as_str).collect();
            let school_password = raw
                .password_file
                .as_ref()
                .map(|f| self.read_password(f.get_ref(), &f.span(), &context));
            let mut school_rooms = vec![];
            for (span, name, file) in rooms {
                let nodes = match room_names::nodes(&name) {
                    Ok(nodes) => nodes,
                    Err(refused) => {
                        self.problem(&span, format!("room {name:?}: {refused}"));
                        room_names::Nodes {
                            typed: name.clone(),
                            link: name.clone(),
                        }
                    }
                };
                for node in nodes.distinct() {
                    let seen = nodes_seen.insert(node.to_owned(), (name.clone(), id.clone()));
                    match seen {
                        Some((other, school)) if other == name => {
                            self.problem(
                                &span,
                                format!(
                                    "room {name:?} is listed twice (also in school {school:?})"
                                ),
                            );
                            break;
                        }
                        Some((other, school)) => {
                            self.problem(
                                &span,
                                format!(
                                    "rooms {other:?} (school {school:?}) and {name:?} are the same Jitsi room {node:?}"
                                ),
                            );
                            break;
                        }
                        None => {}
                    }
                }
                let password = match (&file, &school_password) {
                    (Some(file), _) => self.read_password(file.get_ref(), &file.span(), &context),
                    (None, Some(password)) => password.clone(),
                    (None, None) => {
                        self.problem(
                            &span,
                            format!(
                                "room {name:?} has no password: set password_file on the school or the room"
                            ),
                        );
                        Secret::new("")
                    }
                };
                for node in nodes.distinct() {
                    school_rooms.push(Room {
                        name: node.to_owned(),
                        configured: name.clone(),
                        password: password.clone(),
                    });
                }
            }
            schools.push(School {
                id,
                name: raw.name,
                media_centre,
                rooms: school_rooms,
            });
        }
        schools
    }

    /// Reads a school or room password and refuses one that is easy to guess (see
    /// `password`), reporting at `span` and never showing the password.
    fn read_password(&mut self, file: &str, span: &Range<usize>, context: &[&str]) -> Secret {
        let before = self.problems.len();
        let secret = self.read_secret_file(file, span);
        if self.problems.len() == before {
            if let Err(weak) = password::check(secret.expose(), context) {
                self.problem(
                    span,
                    format!(
                        "the password in {file} is easy to guess: {weak}; `raumwart password` makes a strong one"
                    ),
                );
            }
        }
        secret
    }

    fn read_secret(&mut self, file: &Spanned<String>) -> Secret {
        self.read_secret_file(file.get_ref(), &file.span())
    }

    /// Relative paths are relative to the config file; `$CREDENTIALS_DIRECTORY/` is
    /// systemd's credentials folder.
    fn resolve(&self, file: &str) -> Result<PathBuf, String> {
        match (file.strip_prefix("$CREDENTIALS_DIRECTORY/"), self.credentials) {
            (Some(rest), Some(dir)) => Ok(dir.path(rest)),
            (Some(_), None) => Err(format!(
                "{file} needs $CREDENTIALS_DIRECTORY, which systemd sets for LoadCredential=; it is not set"
            )),
            (None, _) => Ok(self.base.join(file)),
        }
    }

    fn read_secret_file(&mut self, file: &str, span: &Range<usize>) -> Secret {
        match self.resolve(file) {
            Ok(path) => {
                let by_path = !file.starts_with("$CREDENTIALS_DIRECTORY/");
                if by_path && self.read_seen.insert(path.clone()) {
                    self.read_files.push(path.clone());
                }
                self.read_secret_at(&path, span)
            }
            Err(message) => {
                self.problem(span, message);
                Secret::new("")
            }
        }
    }

    fn read_secret_at(&mut self, path: &Path, span: &Range<usize>) -> Secret {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                // One line; a trailing newline from `echo` is not part of the secret.
                let value = text.trim_end_matches(['\r', '\n']);
                if value.trim().is_empty() {
                    self.problem(span, format!("{} is empty", path.display()));
                } else if value.contains('\n') {
                    self.problem(span, format!("{} has more than one line", path.display()));
                }
                Secret::new(value)
            }
            Err(e) => {
                self.problem(span, format!("cannot read {}: {e}", path.display()));
                Secret::new("")
            }
        }
    }
}

/// XML 1.0's `Char`: what a stanza can carry at all.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn is_host_port(s: &str) -> bool {
    if s.parse::<SocketAddr>().is_ok() {
        return true;
    }
    s.rsplit_once(':')
        .is_some_and(|(host, port)| is_domain(host) && port.parse::<u16>().is_ok())
}

fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// `http(s)://host[:port][/path]`: no query, fragment, user or whitespace.
fn is_web_address(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => authority,
    };
    is_domain(host)
        && !path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "?#\\\"<>".contains(c))
}

fn is_service_jid(s: &str) -> bool {
    match s.split_once('@') {
        Some((node, domain)) => !node.is_empty() && !node.contains('/') && is_domain(domain),
        None => is_domain(s),
    }
}

#[cfg(test)]
mod tests {
    use super::is_service_jid;

    #[test]
    fn service_jids() {
        assert!(is_service_jid("focus@auth.meet.jitsi"));
        assert!(is_service_jid("auth.meet.jitsi"));
        assert!(!is_service_jid("focus@"));
        assert!(!is_service_jid("focus@auth/res"));
    }
}
