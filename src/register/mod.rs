//! One register for several shards. The host with the console keeps the register (its
//! config file and password files, as today); every other shard's raumwart follows it
//! (`[register] follow`): it asks the console's `/register`, which answers at once when
//! the register differs from the one the shard has and otherwise holds the request until
//! it changes (long poll). A change made in the console thus reaches every shard within
//! a second or two, and a shard that was down asks at its start.
//!
//! The shard keeps what it received as a register file of its own ([`cache`]), which its
//! config loader reads in place of `[[school]]` blocks: it starts with the last register
//! when the console is away, and only a shard that never had one waits for it.
//!
//! Each shard has its own token (`[[console.shard]]` on the console's host, `[register]
//! token_file` on the shard): it authenticates the request, and an HMAC-SHA256 with it
//! signs the answer, so neither a stranger nor a local process standing in for the proxy
//! gets or gives a register. The register carries the passwords: it travels through TLS
//! (the shard's local proxy to the console's, see README), and the signed `issued_at`
//! refuses an older answer replayed.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;

pub mod cache;
pub mod follow;

/// The header that carries the answer's signature.
pub const SIGNATURE: &str = "x-raumwart-signature";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    pub media_centres: Vec<Centre>,
    pub schools: Vec<School>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Centre {
    /// None for the one `[media_centre]` table.
    pub id: Option<String>,
    pub name: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub mail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct School {
    pub id: String,
    pub name: Option<String>,
    pub media_centre: Option<String>,
    pub rooms: Vec<Room>,
}

/// A room as configured (its nodes are derived again by the follower) and its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    pub name: String,
    pub password: String,
}

/// What `/register` answers: the register, its hash, when it was issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Issued {
    /// Milliseconds since the epoch, on the console's host.
    pub issued_at: u64,
    /// SHA-256 of the register's JSON, hex: the shard's `after`.
    pub hash: String,
    pub register: Register,
}

impl Register {
    /// The register of a validated config.
    pub fn of(config: &Config) -> Register {
        let media_centres = config
            .media_centres
            .iter()
            .map(|m| Centre {
                id: m.id.clone(),
                name: m.name.clone(),
                address: m.address.clone(),
                phone: m.phone.clone(),
                mail: m.mail.clone(),
            })
            .collect();
        let schools = config
            .schools
            .iter()
            .map(|s| {
                let mut rooms: Vec<Room> = vec![];
                // A configured name opens one or two nodes with one password: once.
                for r in &s.rooms {
                    if !rooms.iter().any(|known| known.name == r.configured) {
                        rooms.push(Room {
                            name: r.configured.clone(),
                            password: r.password.expose().to_owned(),
                        });
                    }
                }
                School {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    media_centre: s.media_centre.clone(),
                    rooms,
                }
            })
            .collect();
        Register {
            media_centres,
            schools,
        }
    }

    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("a register serializes");
        hex(&Sha256::digest(json))
    }
}

/// HMAC-SHA256 of `body` with `token`, hex.
pub fn sign(token: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// Whether `signature` (hex) is `body`'s with `token`; compared in constant time.
pub fn verify(token: &str, body: &[u8], signature: &str) -> bool {
    let Some(bytes) = unhex(signature) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tokens_signature_verifies() {
        let body = br#"{"issued_at":1}"#;
        let sig = sign("token-of-shard-2-xxxxxxxxxx", body);
        assert!(verify("token-of-shard-2-xxxxxxxxxx", body, &sig));
        assert!(!verify("token-of-shard-3-xxxxxxxxxx", body, &sig));
        assert!(!verify(
            "token-of-shard-2-xxxxxxxxxx",
            br#"{"issued_at":2}"#,
            &sig
        ));
        assert!(!verify("token-of-shard-2-xxxxxxxxxx", body, &sig[..63]));
        assert!(!verify("token-of-shard-2-xxxxxxxxxx", body, "zz"));
    }
}
