//! Reading `/proc/<pid>/stat`: whether a pid is still the process we started (its start time,
//! recorded at spawn, defeats pid reuse), and which live processes are in a process group.

use std::path::Path;

/// The fields of `/proc/<pid>/stat` this plugin uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// The state letter (`R`, `S`, `D`, `T`, `Z` for a zombie, `X` for dead, ...).
    pub state: char,
    /// The process group ID.
    pub pgrp: i32,
    /// When the process started, in clock ticks since boot (stable for the process's life).
    pub start_time: u64,
}

// === impl Stat ===

impl Stat {
    /// True unless the process has ended (a zombie waiting to be reaped has ended).
    pub fn running(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses the content of `/proc/<pid>/stat`. The command name (field 2) is in parentheses and
/// may itself hold spaces and parentheses, so the fields are counted from the last `)`.
pub fn parse_stat(s: &str) -> Option<Stat> {
    let after = &s[s.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state (field 3), ppid, pgrp (5), ..., starttime (22).
    Some(Stat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// The stat of process `pid`, if it exists.
pub fn stat(pid: u32) -> Option<Stat> {
    read_stat(&Path::new("/proc").join(pid.to_string()).join("stat"))
}

fn read_stat(path: &Path) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(path).ok()?)
}

/// True when `pid` is still the process that started at `start_time` and has not ended.
pub fn alive(pid: u32, start_time: u64) -> bool {
    stat(pid).is_some_and(|s| s.running() && s.start_time == start_time)
}

/// True when no other process holds `pid` now: it is ours (started at `start_time`, running or
/// a zombie) or nobody's. Only then may signals go to process group `pid`: while any member of
/// our group lives, the kernel does not hand the number out again, so a different process with
/// that pid means our group is gone and the number belongs to someone else.
pub fn pid_not_reused(pid: u32, start_time: u64) -> bool {
    stat(pid).is_none_or(|s| s.start_time == start_time)
}

/// The pids of the processes of group `pgid` that have not ended (zombies are left out).
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let want = i32::try_from(pgid).unwrap_or(-1);
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| stat(*pid).is_some_and(|s| s.pgrp == want && s.running()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parentheses() {
        let line =
            "4242 (a b) (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.pgrp, 4242);
        assert_eq!(s.start_time, 987654);
        assert!(s.running());
        assert!(parse_stat("12 (x) Z").is_none());
    }

    #[test]
    fn our_own_process_is_alive_and_in_its_group() {
        let me = std::process::id();
        let s = stat(me).unwrap();
        assert!(alive(me, s.start_time));
        assert!(!alive(me, s.start_time + 1));
        assert!(pid_not_reused(me, s.start_time));
        assert!(!pid_not_reused(me, s.start_time + 1));
        assert!(group_members(u32::try_from(s.pgrp).unwrap()).contains(&me));
    }
}
