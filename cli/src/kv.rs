//! `key=value` arguments, for tags and labels.

use std::collections::HashMap;

/// Parses `key=value`. The key must not be empty; the value may be empty and may itself contain
/// `=` (only the first one separates). Used as a clap value parser.
pub fn parse(s: &str) -> Result<(String, String), String> {
    let Some((k, v)) = s.split_once('=') else {
        return Err(format!("{s:?} is not key=value (write e.g. tier=web)"));
    };
    let k = k.trim();
    if k.is_empty() {
        return Err(format!("{s:?} has an empty key (write e.g. tier=web)"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// Collects pairs into a map; the same key given twice with different values is an error.
pub fn to_map(pairs: &[(String, String)]) -> anyhow::Result<HashMap<String, String>> {
    let mut map = HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        if let Some(prev) = map.insert(k.clone(), v.clone())
            && &prev != v
        {
            anyhow::bail!("tag {k:?} is given twice, as {prev:?} and {v:?}: keep one");
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_the_first_equals_sign() {
        assert_eq!(parse("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse("empty=").unwrap(), ("empty".into(), String::new()));
        assert_eq!(parse(" k =v").unwrap(), ("k".into(), "v".into()));
    }

    #[test]
    fn refuses_missing_equals_or_key() {
        assert!(parse("novalue").unwrap_err().contains("not key=value"));
        assert!(parse("=v").unwrap_err().contains("empty key"));
    }

    #[test]
    fn map_refuses_conflicting_duplicates_only() {
        let same = [
            ("a".to_string(), "1".to_string()),
            ("a".to_string(), "1".to_string()),
        ];
        assert_eq!(to_map(&same).unwrap().len(), 1);
        let conflict = [
            ("a".to_string(), "1".to_string()),
            ("a".to_string(), "2".to_string()),
        ];
        assert!(
            to_map(&conflict)
                .unwrap_err()
                .to_string()
                .contains("given twice")
        );
    }
}
