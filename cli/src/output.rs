//! Rendering what commands print: borderless tables, JSON and YAML; writing it to stdout.
//!
//! Rendering functions are pure (they return a `String`) so they can be tested; [`emit`]
//! writes the result, and its error (e.g. a broken pipe) travels up to [`crate::exit`].

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, presets};
use serde::Serialize;
use std::io::Write;

/// The `-o` formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns (or `key value` lines) for people.
    #[default]
    Table,
    /// Pretty-printed JSON.
    Json,
    /// YAML.
    Yaml,
}

/// Renders rows under headers as kubectl-like columns: no borders, two spaces between
/// columns, no trailing spaces. Cells are printed as given.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .force_no_tty()
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().copied());
    for row in rows {
        t.add_row(row.iter().map(String::as_str));
    }
    for col in t.column_iter_mut() {
        col.set_padding((0, 2))
            .set_constraint(ColumnConstraint::ContentWidth)
            .set_cell_alignment(CellAlignment::Left);
    }
    trim_lines(&t.to_string())
}

/// Renders `key value` lines with the values aligned, keys upper-cased.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut s = String::new();
    for (k, v) in pairs {
        let line = format!("{:<width$}  {v}", k.to_uppercase());
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

/// Renders a value as pretty JSON, ending with a newline.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(value)?;
    s.push('\n');
    Ok(s)
}

/// Renders a value as YAML, ending with a newline.
pub fn yaml<T: Serialize>(value: &T) -> anyhow::Result<String> {
    let mut s = serde_saphyr::to_string(value)?;
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

/// Renders a value as JSON or YAML; `table` falls back to JSON (for data with no natural
/// table, such as an instance spec).
pub fn structured<T: Serialize>(format: Format, value: &T) -> anyhow::Result<String> {
    match format {
        Format::Yaml => yaml(value),
        Format::Json | Format::Table => json(value),
    }
}

/// Writing to stdout failed (typically a closed pipe: `ikctl ... | head`).
#[derive(Debug, thiserror::Error)]
#[error("cannot write to stdout")]
pub struct StdoutError(#[source] pub std::io::Error);

/// Writes rendered text to stdout and flushes it.
pub fn emit(text: &str) -> Result<(), StdoutError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(StdoutError)
}

/// `a=1,b=2`, sorted by key; `-` when there are none.
pub fn tags_cell<'a>(tags: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let mut pairs: Vec<(&String, &String)> = tags.into_iter().collect();
    pairs.sort();
    if pairs.is_empty() {
        return "-".to_string();
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn trim_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn table_aligns_columns_without_borders_or_trailing_spaces() {
        let s = table(
            &["ID", "STATE"],
            &[
                vec!["a".into(), "running".into()],
                vec!["long-id".into(), "-".into()],
            ],
        );
        assert_eq!(s, "ID       STATE\na        running\nlong-id  -\n");
    }

    #[test]
    fn table_with_no_rows_prints_the_header() {
        assert_eq!(table(&["ID", "TAGS"], &[]), "ID  TAGS\n");
    }

    #[test]
    fn key_values_aligns_values() {
        let s = key_values(&[
            ("name", "x".into()),
            ("revision", "abc".into()),
            ("listen", String::new()),
        ]);
        assert_eq!(s, "NAME      x\nREVISION  abc\nLISTEN\n");
    }

    #[test]
    fn json_and_yaml_render_the_same_value() {
        let v = serde_json::json!({"id": "i-1", "tags": {"a": "1"}});
        assert_eq!(
            json(&v).unwrap(),
            "{\n  \"id\": \"i-1\",\n  \"tags\": {\n    \"a\": \"1\"\n  }\n}\n"
        );
        let y = yaml(&v).unwrap();
        assert!(y.contains("id: i-1\n"), "{y}");
        assert!(
            y.contains("a: '1'") || y.contains("a: \"1\""),
            "a string that looks like a number stays a string: {y}"
        );
        assert_eq!(structured(Format::Table, &v).unwrap(), json(&v).unwrap());
    }

    #[test]
    fn tags_are_sorted_and_joined() {
        let tags: HashMap<String, String> =
            [("b".into(), "2".into()), ("a".into(), "1".into())].into();
        assert_eq!(tags_cell(&tags), "a=1,b=2");
        assert_eq!(tags_cell(&HashMap::new()), "-");
    }
}
