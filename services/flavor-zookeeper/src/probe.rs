//! Asking a member with ZooKeeper's four-letter words (`ruok`, `srvr`, `conf`) over TCP, and
//! reading the answers.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the whole answer may take.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// The most of an answer read (`conf` of a 255-member ensemble fits).
pub const MAX_ANSWER: u64 = 64 * 1024;

/// A member's role, from `srvr`'s `Mode:` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Serving and in a quorum: the leader or a follower.
    Voting(String),
    /// Serving but outside the quorum (an observer, or a standalone server).
    Outside(String),
    /// Up but not serving requests (no quorum yet, or lost it).
    NotServing,
    /// An answer the flavor cannot read.
    Unreadable(String),
}

/// One member of the ensemble as its `conf` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfMember {
    /// The server ID.
    pub myid: u32,
    /// Its address (without brackets).
    pub host: String,
    /// A participant (votes) rather than an observer.
    pub voting: bool,
}

/// Sends `word` to `host:port`; returns the whole answer, or why there is none.
pub async fn ask(host: &str, port: u16, word: &str) -> Result<String, String> {
    let addr = format!("{}:{port}", crate::ensemble::bracketed(host));
    let mut stream =
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port))).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(format!("{addr} does not answer: {e}")),
            Err(_) => return Err(format!("{addr} does not answer within {CONNECT_TIMEOUT:?}")),
        };
    let exchange = async {
        stream.write_all(word.as_bytes()).await?;
        let mut buf = Vec::new();
        (&mut stream).take(MAX_ANSWER).read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    match tokio::time::timeout(ANSWER_TIMEOUT, exchange).await {
        Ok(Ok(buf)) => Ok(String::from_utf8_lossy(&buf).into_owned()),
        Ok(Err(e)) => Err(format!("{addr} broke off its answer to {word}: {e}")),
        Err(_) => Err(format!(
            "{addr} gave no answer to {word} within {ANSWER_TIMEOUT:?}"
        )),
    }
}

/// Reads `srvr`'s answer.
pub fn parse_srvr(answer: &str) -> Mode {
    if answer.contains("not currently serving requests") {
        return Mode::NotServing;
    }
    let mode = answer
        .lines()
        .find_map(|l| l.strip_prefix("Mode:"))
        .map(str::trim);
    match mode {
        Some(m @ ("leader" | "follower")) => Mode::Voting(m.to_string()),
        Some(m) if !m.is_empty() => Mode::Outside(m.to_string()),
        _ => Mode::Unreadable(first_line(answer)),
    }
}

/// Reads the `membership:` section of `conf`'s answer (`server.N=host:q:e[:role][;client]`).
pub fn parse_conf(answer: &str) -> Vec<ConfMember> {
    answer
        .lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("server.")?;
            let (id, spec) = rest.split_once('=')?;
            let myid = id.parse().ok()?;
            let spec = spec.split(';').next().unwrap_or(spec);
            let (host, after) = if let Some(v6) = spec.strip_prefix('[') {
                let (h, a) = v6.split_once(']')?;
                (h, a)
            } else {
                let (h, a) = spec.split_once(':')?;
                (h, a)
            };
            Some(ConfMember {
                myid,
                host: host.to_string(),
                voting: !after.ends_with(":observer"),
            })
        })
        .collect()
}

/// The first line of an answer, shortened, for messages.
pub fn first_line(answer: &str) -> String {
    let line = answer.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        "an empty answer".to_string()
    } else {
        line.chars().take(120).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_srvr_answers() {
        let leader =
            "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nMode: leader\nNode count: 5\n";
        assert_eq!(parse_srvr(leader), Mode::Voting("leader".into()));
        assert_eq!(
            parse_srvr("Mode: observer\n"),
            Mode::Outside("observer".into())
        );
        assert_eq!(
            parse_srvr("This ZooKeeper instance is not currently serving requests\n"),
            Mode::NotServing
        );
        assert_eq!(
            parse_srvr("srvr is not executed because it is not in the whitelist.\n"),
            Mode::Unreadable("srvr is not executed because it is not in the whitelist.".into())
        );
    }

    #[test]
    fn reads_the_membership_from_conf() {
        let conf = "clientPort=42181\nserverId=1\nmembership: \n\
            server.1=127.0.0.21:42888:43888:participant\n\
            server.2=[::1]:42888:43888:participant;[::1]:2181\n\
            server.3=zk3:42888:43888:observer\nversion=0\n";
        assert_eq!(
            parse_conf(conf),
            vec![
                ConfMember {
                    myid: 1,
                    host: "127.0.0.21".into(),
                    voting: true
                },
                ConfMember {
                    myid: 2,
                    host: "::1".into(),
                    voting: true
                },
                ConfMember {
                    myid: 3,
                    host: "zk3".into(),
                    voting: false
                },
            ]
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_an_error_naming_the_address() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let e = ask("127.0.0.1", port, "ruok").await.unwrap_err();
        assert!(
            e.starts_with(&format!("127.0.0.1:{port} does not answer")),
            "{e}"
        );
    }
}
