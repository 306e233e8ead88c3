//! Staff passwords (argon2id), session and CSRF tokens, and how long a login that failed
//! too often must wait.

use std::sync::OnceLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use sha2::{Digest, Sha256};

/// Failures allowed before attempts are slowed down.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait after many failures.
pub const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);
/// Failures older than this are forgotten.
pub const FORGET_FAILURES: Duration = Duration::from_secs(60 * 60);
/// A staff password is at least this long.
pub const MIN_PASSWORD: usize = 12;

/// The PHC string of argon2id with the crate's defaults (OWASP's: 19 MiB, 2 passes).
pub fn hash(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 with its default parameters")
        .to_string()
}

/// Whether `password` matches the PHC string `hash`; a malformed hash matches nothing.
pub fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Checks a password against no account as long as against one, so the answer's time
/// does not tell whether a login exists.
pub fn verify_nobody(password: &str) {
    static NOBODY: OnceLock<String> = OnceLock::new();
    let hash = NOBODY.get_or_init(|| hash(&token()));
    let _ = verify(hash, password);
}

/// Hashes computed at once: each takes 19 MiB and a core for a moment, so a flood of
/// logins waits in line instead of exhausting memory.
const HASHING_AT_ONCE: usize = 2;

/// The account whose password `password` is, checked off the async threads, at most
/// [`HASHING_AT_ONCE`] at a time; an unknown login costs the same (`verify_nobody`).
pub async fn check<T: Send + 'static>(found: Option<(T, String)>, password: String) -> Option<T> {
    static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(HASHING_AT_ONCE);
    let _turn = HASHING.acquire().await.ok()?;
    tokio::task::spawn_blocking(move || match found {
        Some((account, hash)) if verify(&hash, &password) => Some(account),
        Some(_) => None,
        None => {
            verify_nobody(&password);
            None
        }
    })
    .await
    .unwrap_or(None)
}

/// 32 random bytes, hex: session tokens, CSRF tokens, upload names.
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("the system's random source");
    hex(&bytes)
}

/// What the database keeps of a session token.
pub fn sha256(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two tokens in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// How long after its last failure a login (or an address) must wait, with `failures`
/// counted: nothing for the first few, then doubling from 2 s up to [`LONGEST_WAIT`].
pub fn wait_after(failures: u32) -> Duration {
    match failures.checked_sub(FREE_FAILURES) {
        None => Duration::ZERO,
        Some(over) => Duration::from_secs(1u64 << (over + 1).min(20)).min(LONGEST_WAIT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash("Kreide-Tafel-2026");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify(&h, "Kreide-Tafel-2026"));
        assert!(!verify(&h, "Kreide-Tafel-2027"));
        assert!(!verify("not a hash", "x"));
    }

    #[test]
    fn waits_grow_after_the_free_failures_and_stop_growing() {
        assert_eq!(wait_after(0), Duration::ZERO);
        assert_eq!(wait_after(FREE_FAILURES - 1), Duration::ZERO);
        assert_eq!(wait_after(FREE_FAILURES), Duration::from_secs(2));
        assert_eq!(wait_after(FREE_FAILURES + 1), Duration::from_secs(4));
        assert_eq!(wait_after(FREE_FAILURES + 40), LONGEST_WAIT);
        assert_eq!(wait_after(u32::MAX), LONGEST_WAIT);
    }

    #[test]
    fn tokens_are_fresh_and_compared_whole() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same(&a, &a[..63]));
    }
}
