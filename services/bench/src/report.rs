//! The results: rows of the markdown table (scenario | ours | InfraKit | target) and the JSON.

use crate::args::{Args, Scenario, Sizes};
use serde_json::{Value, json};
use std::path::Path;

/// One line of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// What was measured.
    pub scenario: String,
    /// Our number.
    pub ours: String,
    /// InfraKit's published number, or `—`.
    pub infrakit: String,
    /// The target, or `—`.
    pub target: String,
    /// Whether the target was met (`None` when there is no target to compare with).
    pub met: Option<bool>,
}

/// What one scenario produced: its rows and its raw measurements.
#[derive(Clone, Debug, Default)]
pub struct Part {
    /// The table rows.
    pub rows: Vec<Row>,
    /// Every sample and detail, for the JSON.
    pub details: Value,
}

/// A table of its own, printed after the main one (e.g. one row per size of the scale curve).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Printed in bold above the table.
    pub title: String,
    /// The column names.
    pub header: Vec<String>,
    /// The cells, row by row.
    pub rows: Vec<Vec<String>>,
    /// Printed in italics below the table (how it was measured), unless empty.
    pub note: String,
}

/// The whole report.
#[derive(Clone, Debug)]
pub struct Report {
    meta: Value,
    rows: Vec<Row>,
    tables: Vec<Table>,
    details: serde_json::Map<String, Value>,
}

// === impl Row ===

impl Row {
    /// A row; `met` says whether the target was met, if there is one.
    pub fn new(
        scenario: impl Into<String>,
        ours: impl Into<String>,
        infrakit: impl Into<String>,
        target: impl Into<String>,
        met: Option<bool>,
    ) -> Self {
        Self {
            scenario: scenario.into(),
            ours: ours.into(),
            infrakit: infrakit.into(),
            target: target.into(),
            met,
        }
    }
}

// === impl Table ===

impl Table {
    /// The table in markdown, with its title and note.
    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| {
            let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
            format!("| {} |\n", cells.join(" | "))
        };
        let mut out = format!("**{}**\n\n", self.title);
        out.push_str(&line(&self.header));
        out.push_str(&line(&vec!["---".to_string(); self.header.len()]));
        for r in &self.rows {
            out.push_str(&line(r));
        }
        if !self.note.is_empty() {
            out.push_str(&format!("\n_{}_\n", self.note));
        }
        out
    }
}

// === impl Report ===

impl Report {
    /// An empty report describing this machine, the binaries in `bins` and the run.
    pub fn new(args: &Args, sizes: &Sizes, bins: &Path) -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, m)| m.trim().to_string())
            })
            .unwrap_or_default();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next().map(str::to_string))
            .unwrap_or_default();
        Self {
            meta: json!({
                "load_at_start": load,
                "cores": cores,
                "cpu": cpu,
                "kernel": kernel,
                "quick": args.quick,
                "work_dir": args.work_dir.display().to_string(),
                "runs": sizes.runs,
                "version": infrakit_spi::VERSION,
                "revision": service_revision(bins),
            }),
            rows: Vec::new(),
            tables: Vec::new(),
            details: serde_json::Map::new(),
        }
    }

    /// Adds a scenario's results.
    pub fn add(&mut self, scenario: Scenario, part: Part) {
        self.rows.extend(part.rows);
        self.details
            .insert(scenario.name().to_string(), part.details);
    }

    /// Adds a table of its own.
    pub fn add_table(&mut self, table: Table) {
        self.tables.push(table);
    }

    /// The rows so far.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The markdown table, with a line saying where and how it was measured.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        if !self.rows.is_empty() || self.tables.is_empty() {
            out.push_str("| scenario | ours | InfraKit | target |\n| --- | --- | --- | --- |\n");
        }
        for r in &self.rows {
            let mark = match r.met {
                Some(true) => " ✅",
                Some(false) => " ❌",
                None => "",
            };
            out.push_str(&format!(
                "| {} | {}{mark} | {} | {} |\n",
                cell(&r.scenario),
                cell(&r.ours),
                cell(&r.infrakit),
                cell(&r.target)
            ));
        }
        for t in &self.tables {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&t.markdown());
        }
        let m = &self.meta;
        let runs = if self.rows.is_empty() {
            String::new()
        } else {
            format!("; median of {} run(s)", m["runs"])
        };
        out.push_str(&format!(
            "\n_{} core(s) ({}), Linux {}, load average {} at the start{runs}{}; infrakit {} ({})._\n",
            m["cores"],
            m["cpu"].as_str().unwrap_or("unknown CPU"),
            m["kernel"].as_str().unwrap_or("?"),
            m["load_at_start"].as_str().unwrap_or("?"),
            if m["quick"].as_bool().unwrap_or(false) {
                ", --quick sizes"
            } else {
                ""
            },
            m["version"].as_str().unwrap_or("?"),
            m["revision"].as_str().unwrap_or("?"),
        ));
        out
    }

    /// Everything as JSON: the machine, the rows, and every sample.
    pub fn json(&self) -> Value {
        json!({
            "meta": self.meta,
            "rows": self.rows.iter().map(|r| json!({
                "scenario": r.scenario,
                "ours": r.ours,
                "infrakit": r.infrakit,
                "target": r.target,
                "met": r.met,
            })).collect::<Vec<_>>(),
            "details": self.details,
        })
    }
}

/// The revision `infrakit-group version` reports (the services measured), else this binary's.
fn service_revision(bins: &Path) -> String {
    std::process::Command::new(bins.join("infrakit-group"))
        .arg("version")
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
        .and_then(|v| {
            v.get("revision")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| infrakit_spi::REVISION.to_string())
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_of_its_own_is_markdown() {
        let t = Table {
            title: "Scale curve".into(),
            header: vec!["instances".into(), "heal".into()],
            rows: vec![vec!["100".into(), "1 | 2".into()]],
            note: "how".into(),
        };
        assert_eq!(
            t.markdown(),
            "**Scale curve**\n\n| instances | heal |\n| --- | --- |\n| 100 | 1 \\| 2 |\n\n_how_\n"
        );
    }
}
