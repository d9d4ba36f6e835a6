//! Reading a JSON or YAML document from a file or stdin.
//!
//! JSON is tried first. When that fails and the text does not look like JSON (it does not
//! start with `{` or `[`), it is read as YAML (with YAML 1.2 booleans only: `yes` and `on` stay
//! strings). Errors name the file and the line and column. Either way the result is a
//! `serde_json::Value`, so JSON and YAML inputs take the same path afterwards.

use serde_json::Value;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

/// Where a document comes from: a file, or stdin for `-`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
}

/// A parsed document and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The file name, or `<stdin>`, for messages.
    pub origin: String,
    /// The content.
    pub value: Value,
}

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be read.
    #[error("cannot read {origin}")]
    Read {
        /// The file.
        origin: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The input is not UTF-8.
    #[error("{origin} is not UTF-8 text")]
    NotUtf8 {
        /// The file.
        origin: String,
    },
    /// The input holds nothing.
    #[error("{origin} is empty (expected a JSON or YAML document)")]
    Empty {
        /// The file.
        origin: String,
    },
    /// The input is not valid JSON (and looks like JSON, or YAML failed too).
    #[error("{origin}: invalid {format} at line {line}, column {column}: {problem}")]
    Syntax {
        /// The file.
        origin: String,
        /// `JSON` or `YAML`.
        format: &'static str,
        /// 1-based line of the problem.
        line: u64,
        /// 1-based column of the problem.
        column: u64,
        /// What is wrong.
        problem: String,
    },
    /// The YAML is invalid and the parser could not say where.
    #[error("{origin}: invalid YAML: {problem}")]
    YamlNoPosition {
        /// The file.
        origin: String,
        /// What is wrong.
        problem: String,
    },
}

// === impl Source ===

impl Source {
    /// `-` is stdin; anything else a file path.
    pub fn parse(s: &str) -> Self {
        if s == "-" {
            Self::Stdin
        } else {
            Self::File(PathBuf::from(s))
        }
    }

    /// The name used in messages.
    pub fn origin(&self) -> String {
        match self {
            Self::Stdin => "<stdin>".to_string(),
            Self::File(p) => p.display().to_string(),
        }
    }

    /// Reads and parses the document. `what` describes it in the hint printed when stdin is a
    /// terminal (e.g. "instance Properties").
    pub fn read(&self, what: &str) -> Result<Document, InputError> {
        let origin = self.origin();
        let bytes = match self {
            Self::Stdin => {
                let stdin = std::io::stdin();
                if stdin.is_terminal() {
                    eprintln!("ikctl: reading {what} from standard input; end with Ctrl-D");
                }
                let mut buf = Vec::new();
                stdin
                    .lock()
                    .read_to_end(&mut buf)
                    .map_err(|source| InputError::Read {
                        origin: origin.clone(),
                        source,
                    })?;
                buf
            }
            Self::File(p) => std::fs::read(p).map_err(|source| InputError::Read {
                origin: origin.clone(),
                source,
            })?,
        };
        let text = String::from_utf8(bytes).map_err(|_| InputError::NotUtf8 {
            origin: origin.clone(),
        })?;
        let value = parse(&origin, &text)?;
        Ok(Document { origin, value })
    }
}

impl std::str::FromStr for Source {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(s))
    }
}

/// Parses `text` (from `origin`) as JSON, or else as YAML; see the module docs.
pub fn parse(origin: &str, text: &str) -> Result<Value, InputError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(InputError::Empty {
            origin: origin.to_string(),
        });
    }
    let json_err = match serde_json::from_str::<Value>(text) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    if trimmed.starts_with(['{', '[']) {
        return Err(json_error(origin, &json_err));
    }
    let opts = serde_saphyr::options! { strict_booleans: true, with_snippet: false };
    match serde_saphyr::from_str_with_options::<Value>(text, opts) {
        Ok(Value::Null) if only_comments(text) => Err(InputError::Empty {
            origin: origin.to_string(),
        }),
        Ok(v) => Ok(v),
        Err(e) => Err(yaml_error(origin, &e)),
    }
}

fn only_comments(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l == "---" || l == "..."
    })
}

fn json_error(origin: &str, e: &serde_json::Error) -> InputError {
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = e.to_string();
    InputError::Syntax {
        origin: origin.to_string(),
        format: "JSON",
        line: e.line() as u64,
        column: e.column() as u64,
        problem: msg.strip_suffix(&suffix).unwrap_or(&msg).to_string(),
    }
}

fn yaml_error(origin: &str, e: &serde_saphyr::Error) -> InputError {
    let msg = e.to_string();
    match e.location() {
        Some(loc) => {
            let (line, column) = (loc.line(), loc.column());
            let problem = [
                format!(" at line {line}, column {column}"),
                format!(" at line {line} column {column}"),
            ]
            .iter()
            .find_map(|suffix| msg.strip_suffix(suffix.as_str()))
            .unwrap_or(&msg)
            // Advice meant for programs using the library, not for people writing YAML.
            .replace(", set DuplicateKeyPolicy in Options if acceptable", "")
            .to_string();
            InputError::Syntax {
                origin: origin.to_string(),
                format: "YAML",
                line: loc.line(),
                column: loc.column(),
                problem,
            }
        }
        None => InputError::YamlNoPosition {
            origin: origin.to_string(),
            problem: msg,
        },
    }
}

#[cfg(test)]
mod tests;
