//! Opaque plugin Properties (UTF-8 JSON) whose `Debug` and `Display` never show their content,
//! because Properties may hold secrets.

use sha2::{Digest, Sha256};
use std::fmt;

/// Plugin Properties as raw JSON bytes. Formatting shows only the size and a short digest.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Properties(pub Vec<u8>);

// === impl Properties ===

impl Properties {
    /// Wraps raw bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Serialises a JSON value.
    pub fn from_value(v: &serde_json::Value) -> Self {
        Self(v.to_string().into_bytes())
    }

    /// True when no bytes were given (which plugins treat as JSON `null`).
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(u8::is_ascii_whitespace)
    }

    /// Parses the bytes as JSON; empty bytes are `null`. The error names the line and column.
    pub fn parse(&self) -> Result<serde_json::Value, serde_json::Error> {
        if self.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&self.0)
    }

    /// A short digest of the content (first 8 hex digits of SHA-256), safe to log.
    pub fn digest(&self) -> String {
        let d = Sha256::digest(&self.0);
        d.iter().take(4).map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Properties({} bytes, sha256:{})",
            self.0.len(),
            self.digest()
        )
    }
}

impl fmt::Display for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_content() {
        let p = Properties::new(br#"{"password":"hunter2"}"#.to_vec());
        let shown = format!("{p:?} {p}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("22 bytes"), "{shown}");
    }

    #[test]
    fn empty_bytes_parse_as_null() {
        assert_eq!(
            Properties::default().parse().unwrap(),
            serde_json::Value::Null
        );
        assert!(Properties::new(b"{".to_vec()).parse().is_err());
    }
}
