//! Logs written to a file are plain text: colour codes only go to a terminal.

use crate::support::*;

#[test]
fn text_logs_written_to_a_file_carry_no_colour_codes() {
    let t = TestDir::new();
    // The harness sends each plugin's stderr to a file.
    let p = t.start("infrakit-flavor-vanilla", "flavor-vanilla", &[]);
    let logs = p.logs();
    assert!(logs.contains("INFO"), "{logs}");
    assert!(logs.contains("serving"), "{logs}");
    assert!(
        !logs.contains("\x1b["),
        "escape codes in a log file: {logs:?}"
    );
}
