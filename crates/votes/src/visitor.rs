//! The visitor key: who voted, without knowing who.
//!
//! As privacy-friendly analytics do (Plausible's daily salt, Fathom), a vote is keyed on
//! `HMAC-SHA256(server secret, client address ‖ user agent ‖ item ‖ UTC day)`. The address
//! and user agent are hashed in memory and dropped; only the key is stored. The same visitor
//! voting again the same day gets the same key (the vote is replaced); the next day, or
//! from another browser or address, is another key. Without the secret, which stays in the
//! database, a key cannot be tested against a guessed address.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The server's HMAC key (32 random bytes, kept in the `server_secret` table).
#[derive(Clone)]
pub struct Secret(pub(crate) [u8; 32]);

impl Secret {
    pub fn random() -> Secret {
        Secret(rand::random())
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    pub fn from_hex(s: &str) -> Option<Secret> {
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Secret(out))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The UTC day number (days since 1970-01-01) of a Unix time in seconds.
pub fn utc_day(unix_secs: u64) -> u64 {
    unix_secs / 86_400
}

/// The stored key of one visitor's vote on one item on one day: 32 hex digits (128 bits of
/// the HMAC).
pub fn visitor_key(
    secret: &Secret,
    addr: IpAddr,
    user_agent: &str,
    item: &str,
    day: u64,
) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).expect("HMAC takes a key of any size");
    // Each field is length-prefixed so that ("ab", "c") and ("a", "bc") differ.
    let addr = addr.to_string();
    for field in [addr.as_bytes(), user_agent.as_bytes(), item.as_bytes()] {
        mac.update(&(field.len() as u64).to_le_bytes());
        mac.update(field);
    }
    mac.update(&day.to_le_bytes());
    hex(&mac.finalize().into_bytes()[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret([7; 32])
    }

    const ADDR: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn same_visitor_item_and_day_give_the_same_key() {
        let a = visitor_key(&secret(), ADDR, "Firefox", "x", 20_000);
        let b = visitor_key(&secret(), ADDR, "Firefox", "x", 20_000);
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn another_day_item_agent_address_or_secret_gives_another_key() {
        let base = visitor_key(&secret(), ADDR, "Firefox", "x", 20_000);
        let other_addr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));
        for other in [
            visitor_key(&secret(), ADDR, "Firefox", "x", 20_001),
            visitor_key(&secret(), ADDR, "Firefox", "y", 20_000),
            visitor_key(&secret(), ADDR, "Chrome", "x", 20_000),
            visitor_key(&secret(), other_addr, "Firefox", "x", 20_000),
            visitor_key(&Secret([8; 32]), ADDR, "Firefox", "x", 20_000),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn fields_are_not_confused_at_their_borders() {
        let a = visitor_key(&secret(), ADDR, "ab", "c", 1);
        let b = visitor_key(&secret(), ADDR, "a", "bc", 1);
        assert_ne!(a, b);
    }

    #[test]
    fn the_key_does_not_contain_the_address_or_agent() {
        let k = visitor_key(&secret(), ADDR, "Firefox", "x", 1);
        assert!(!k.contains("192") && !k.contains("Firefox"), "{k}");
    }

    #[test]
    fn secret_round_trips_through_hex() {
        let s = Secret::random();
        let back = Secret::from_hex(&s.to_hex()).expect("64 hex digits");
        assert_eq!(s.0, back.0);
        assert!(Secret::from_hex("zz").is_none());
        assert!(Secret::from_hex(&"g".repeat(64)).is_none());
    }

    #[test]
    fn utc_day_changes_at_midnight() {
        assert_eq!(utc_day(86_399), 0);
        assert_eq!(utc_day(86_400), 1);
    }
}
