//! A bad input, named by its JSON path, with what is wrong and how to fix it.

use std::fmt;

/// One problem found in an input, e.g. `$.Properties.Allocation.Size: must be a whole number >= 0
/// (fix: write a number such as 3)`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    /// The JSON path of the offending field, e.g. `$.Properties.Allocation.Size`.
    pub path: String,
    /// What is wrong, in a few words.
    pub problem: String,
    /// How to fix it, in a few words.
    pub fix: String,
}

/// All the problems found in one input; validation collects every one before reporting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Violations(pub Vec<Violation>);

// === impl Violation ===

impl Violation {
    /// A violation at `path`.
    pub fn new(
        path: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fix.is_empty() {
            write!(f, "{}: {}", self.path, self.problem)
        } else {
            write!(f, "{}: {} (fix: {})", self.path, self.problem, self.fix)
        }
    }
}

// === impl Violations ===

impl Violations {
    /// No violations yet.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Records a violation.
    pub fn push(
        &mut self,
        path: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.0.push(Violation::new(path, problem, fix));
    }

    /// The value of `r`, or `None` after recording its violation.
    pub fn record<T>(&mut self, r: Result<T, Violation>) -> Option<T> {
        r.map_err(|v| self.0.push(v)).ok()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, Violations> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

impl From<Violation> for Violations {
    fn from(v: Violation) -> Self {
        Self(vec![v])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keeps_values_and_collects_violations() {
        let mut bad = Violations::new();
        assert_eq!(bad.record(Ok::<_, Violation>(3)), Some(3));
        assert!(bad.is_empty());
        assert_eq!(
            bad.record(Err::<u8, _>(Violation::new("$.a", "is bad", "fix it"))),
            None
        );
        assert_eq!(bad.to_string(), "$.a: is bad (fix: fix it)");
    }

    #[test]
    fn display_lists_every_violation_with_its_fix() {
        let mut v = Violations::new();
        v.push("$.a", "is missing", "add it");
        v.push("$.b", "is wrong", "");
        assert_eq!(
            v.to_string(),
            "$.a: is missing (fix: add it); $.b: is wrong"
        );
        assert!(v.into_result(()).is_err());
    }
}
