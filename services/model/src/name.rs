//! Plugin names: `lookup[/subtype]`, where `lookup` selects the plugin (its socket file is
//! `<plugins dir>/<lookup>.sock`) and `subtype` an object inside it (`group/workers`).

use std::fmt;

/// A parsed plugin name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PluginName {
    /// The plugin to reach.
    pub lookup: String,
    /// The object inside it, if any.
    pub subtype: Option<String>,
}

/// Why a plugin name was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadName {
    /// The name as given.
    pub name: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

// === impl PluginName ===

impl PluginName {
    /// Parses `lookup[/subtype]`. The lookup must be 1-64 characters of `[A-Za-z0-9._-]`, not
    /// starting with a dot, so that it is a safe file name.
    pub fn parse(name: &str) -> Result<Self, BadName> {
        let (lookup, subtype) = match name.split_once('/') {
            Some((l, s)) => (l, Some(s)),
            None => (name, None),
        };
        validate_lookup(lookup).map_err(|problem| BadName {
            name: name.to_string(),
            problem,
        })?;
        if subtype.is_some_and(|s| s.is_empty() || s.contains('/')) {
            return Err(BadName {
                name: name.to_string(),
                problem: "the subtype after '/' must be one non-empty word",
            });
        }
        Ok(Self {
            lookup: lookup.to_string(),
            subtype: subtype.map(str::to_string),
        })
    }

    /// The subtype, or "" for the default object (the SPI's `type` field).
    pub fn subtype_or_default(&self) -> &str {
        self.subtype.as_deref().unwrap_or("")
    }
}

/// Checks that `lookup` is usable as a plugin (and socket file) name.
pub fn validate_lookup(lookup: &str) -> Result<(), &'static str> {
    if lookup.is_empty() {
        return Err("the plugin name is empty");
    }
    if lookup.len() > 64 {
        return Err("the plugin name is longer than 64 characters");
    }
    if lookup.starts_with('.') {
        return Err("the plugin name must not start with '.'");
    }
    if !lookup
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err("the plugin name may only hold letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

impl fmt::Display for PluginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.subtype {
            Some(s) => write!(f, "{}/{}", self.lookup, s),
            None => f.write_str(&self.lookup),
        }
    }
}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid plugin name {:?}: {}", self.name, self.problem)
    }
}

impl std::error::Error for BadName {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lookup_and_subtype() {
        let n = PluginName::parse("group/workers").unwrap();
        assert_eq!(n.lookup, "group");
        assert_eq!(n.subtype.as_deref(), Some("workers"));
        assert_eq!(n.to_string(), "group/workers");
        assert_eq!(
            PluginName::parse("instance-file")
                .unwrap()
                .subtype_or_default(),
            ""
        );
    }

    #[test]
    fn refuses_unsafe_names() {
        for bad in ["", "../x", ".hidden", "a b", "x/", "a/b/c"] {
            assert!(PluginName::parse(bad).is_err(), "{bad}");
        }
    }
}
