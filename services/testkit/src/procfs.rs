//! Finding and signalling processes through `/proc`: how tests clean up what a killed plugin
//! left running (its backend tool's runs, the instances' processes), whichever process started
//! it.

use rustix::process::{Pid, Signal};
use std::collections::HashMap;
use std::path::PathBuf;

/// The IDs of every process but this one.
pub fn pids() -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .collect()
}

/// The environment of process `pid` (empty when it is gone or not ours to read).
pub fn environ(pid: u32) -> HashMap<String, String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let s = String::from_utf8_lossy(kv);
            let (k, v) = s.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// The command line of process `pid`, its arguments joined by spaces; empty for a zombie (it
/// has already ended) or a process that is gone.
pub fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw)
        .replace('\0', " ")
        .trim()
        .to_string()
}

/// The working directory of process `pid`, when it can be read.
pub fn cwd(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

/// Sends `sig` to process `pid` (errors ignored: it may be gone).
pub fn signal(pid: u32, sig: Signal) {
    if let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(p, sig);
    }
}

/// Sends `sig` to every process of process group `pgid` (errors ignored: it may be gone).
pub fn signal_group(pgid: u32, sig: Signal) {
    if let Some(p) = i32::try_from(pgid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process_group(p, sig);
    }
}

/// SIGKILL to process `pid` (errors ignored: it may be gone).
pub fn kill(pid: u32) {
    signal(pid, Signal::KILL);
}
