//! Vagrantfile templates: Ruby text with `{{NAME}}` placeholders, each replaced by a Ruby
//! literal (a single-quoted string, a number, `nil`, an array or a hash), so no value can break
//! out of its literal whatever it contains. The built-in templates (one per provider) use the same
//! mechanism as a user's template.

use infrakit_model::suggest::did_you_mean;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The built-in template of the docker provider.
pub const DOCKER: &str = include_str!("templates/docker.Vagrantfile");

/// The built-in template of the virtualbox provider.
pub const VIRTUALBOX: &str = include_str!("templates/virtualbox.Vagrantfile");

/// The placeholders a template may use, and what each holds.
pub const VARIABLES: &[(&str, &str)] = &[
    ("ID", "the instance ID (string)"),
    ("NAME", "the container or VM name, the instance ID (string)"),
    (
        "HOSTNAME",
        "the pet's logical ID when it is a host name, else the instance ID (string)",
    ),
    ("PROVIDER", "docker or virtualbox (string)"),
    ("IMAGE", "the docker image (string or nil)"),
    ("BOX", "the box (string or nil)"),
    ("MEMORY", "memory in MiB (integer or nil)"),
    ("CPUS", "CPUs (number or nil)"),
    (
        "IP",
        "the pet's logical ID when it is an IP address (string or nil)",
    ),
    ("LOGICAL_ID", "the pet's logical ID (string or nil)"),
    ("NETWORK", "the docker network (string or nil)"),
    (
        "CMD",
        "the container command: the Init script and Command (array of strings)",
    ),
    ("ENV", "the container environment (hash)"),
    (
        "CREATE_ARGS",
        "docker run arguments: --pull never, labels, limits, network (array of strings)",
    ),
    (
        "LABELS",
        "the container labels: plugin, instance ID, directory, tags, Labels (hash)",
    ),
    ("TAGS", "the instance's tags at provision time (hash)"),
    ("INIT", "the Init script (string)"),
    (
        "BOOT_SCRIPT",
        "the absolute path of boot.sh, the Init script (string)",
    ),
    ("DIR", "the instance's directory (string)"),
];

/// A value substituted for a placeholder, rendered as a Ruby literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `nil`.
    Nil,
    /// A single-quoted string.
    Str(String),
    /// A whole number.
    Int(u64),
    /// A number.
    Num(f64),
    /// An array of strings.
    List(Vec<String>),
    /// A hash of strings.
    Map(BTreeMap<String, String>),
}

/// A parsed template: literal text and placeholders.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Text(String),
    Var(String),
}

/// A placeholder a template uses but the plugin does not know, or an unclosed one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadPlaceholder {
    /// The placeholder's text (without braces).
    pub name: String,
    /// The line it is on (1-based).
    pub line: usize,
    /// The nearest known name, if any.
    pub suggestion: Option<&'static str>,
}

// === impl Value ===

impl Value {
    /// A string, or `nil` when absent.
    pub fn opt(s: Option<&str>) -> Self {
        s.map_or(Value::Nil, |s| Value::Str(s.to_string()))
    }

    /// The Ruby literal.
    pub fn ruby(&self) -> String {
        match self {
            Value::Nil => "nil".to_string(),
            Value::Str(s) => ruby_str(s),
            Value::Int(n) => n.to_string(),
            Value::Num(n) => n.to_string(),
            Value::List(items) => {
                let items: Vec<String> = items.iter().map(|s| ruby_str(s)).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Map(m) => {
                let items: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{} => {}", ruby_str(k), ruby_str(v)))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
        }
    }
}

/// A single-quoted Ruby string: only `\\` and `\'` are escapes there, and nothing interpolates.
pub fn ruby_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\\' || c == '\'' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

// === impl Template ===

impl Template {
    /// A template without placeholders: `text` as it is.
    pub fn text(text: &str) -> Self {
        Self {
            parts: vec![Part::Text(text.to_string())],
        }
    }

    /// Parses `text`, reporting every unknown or unclosed placeholder.
    pub fn parse(text: &str) -> Result<Self, Vec<BadPlaceholder>> {
        let known = || VARIABLES.iter().map(|(n, _)| *n);
        let mut parts = Vec::new();
        let mut bad = Vec::new();
        let mut rest = text;
        let mut line = 1;
        while let Some(start) = rest.find("{{") {
            let (before, after) = rest.split_at(start);
            line += before.matches('\n').count();
            parts.push(Part::Text(before.to_string()));
            let after = &after[2..];
            let Some(end) = after.find("}}") else {
                bad.push(BadPlaceholder {
                    name: after.lines().next().unwrap_or_default().to_string(),
                    line,
                    suggestion: None,
                });
                rest = "";
                break;
            };
            let name = after[..end].trim();
            if known().any(|k| k == name) {
                parts.push(Part::Var(name.to_string()));
            } else {
                bad.push(BadPlaceholder {
                    name: name.to_string(),
                    line,
                    suggestion: did_you_mean(name, known()),
                });
            }
            line += after[..end].matches('\n').count();
            rest = &after[end + 2..];
        }
        parts.push(Part::Text(rest.to_string()));
        if bad.is_empty() {
            Ok(Self { parts })
        } else {
            Err(bad)
        }
    }

    /// The text with every placeholder replaced by its value's Ruby literal (`nil` when
    /// `values` lacks it).
    pub fn render(&self, values: &BTreeMap<&'static str, Value>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var(name) => {
                    let v = values.get(name.as_str()).unwrap_or(&Value::Nil);
                    let _ = write!(out, "{}", v.ruby());
                }
            }
        }
        out
    }
}

impl std::fmt::Display for BadPlaceholder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: {{{{{}}}}} is not a known placeholder",
            self.line, self.name
        )?;
        if let Some(s) = self.suggestion {
            write!(f, " (did you mean {{{{{s}}}}}?)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_cannot_break_out_of_their_literal() {
        assert_eq!(ruby_str("it's"), r"'it\'s'");
        assert_eq!(ruby_str(r"a\'; system('x')"), r"'a\\\'; system(\'x\')'");
        assert_eq!(ruby_str("#{x}\n"), "'#{x}\n'");
        assert_eq!(
            Value::List(vec!["a".into(), "b".into()]).ruby(),
            "['a', 'b']"
        );
        let m = BTreeMap::from([("k".to_string(), "v".to_string())]);
        assert_eq!(Value::Map(m).ruby(), "{'k' => 'v'}");
        assert_eq!(Value::Num(0.5).ruby(), "0.5");
        assert_eq!(Value::Num(2.0).ruby(), "2");
        assert_eq!(Value::Nil.ruby(), "nil");
    }

    #[test]
    fn placeholders_are_replaced_and_unknown_ones_reported_with_a_suggestion() {
        let t = Template::parse("a = {{ ID }}\nb = {{IMAGE}}\n").unwrap();
        let v = BTreeMap::from([("ID", Value::Str("x".into()))]);
        assert_eq!(t.render(&v), "a = 'x'\nb = nil\n");
        let bad = Template::parse("x\ny = {{IMAGEE}} {{nope}}\nz = {{ID").unwrap_err();
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert_eq!(bad[0].suggestion, Some("IMAGE"));
        assert_eq!(bad[0].line, 2);
        assert_eq!(bad[2].line, 3);
        assert!(bad[0].to_string().contains("did you mean {{IMAGE}}"));
    }

    #[test]
    fn the_built_in_templates_parse() {
        Template::parse(DOCKER).unwrap();
        Template::parse(VIRTUALBOX).unwrap();
    }
}
