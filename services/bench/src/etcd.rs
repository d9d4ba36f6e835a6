//! A single-member etcd for the high-availability scenario: started on free loopback ports
//! with its data in a temporary directory, killed and removed when dropped. Needs Debian's
//! `etcd-server` (`tests/setup/etcd.sh` installs it).

use anyhow::{Context, bail};
use infrakit_spi::etcd::etcdserverpb::RangeRequest;
use infrakit_spi::etcd::etcdserverpb::kv_client::KvClient;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// A running etcd.
#[derive(Debug)]
pub struct Etcd {
    child: Child,
    client: u16,
    _dir: tempfile::TempDir,
}

impl Etcd {
    /// Starts etcd and waits until it answers.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("ikb-etcd")
            .tempdir()
            .context("cannot create etcd's directory")?;
        let (client, peer) = (free_port()?, free_port()?);
        let c = format!("http://127.0.0.1:{client}");
        let p = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.path().join("etcd.log"))?;
        let child = Command::new("etcd")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &c, "--advertise-client-urls", &c])
            .args([
                "--listen-peer-urls",
                &p,
                "--initial-advertise-peer-urls",
                &p,
            ])
            .args(["--initial-cluster", &format!("default={p}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start etcd (install it with tests/setup/etcd.sh)")?;
        let etcd = Self {
            child,
            client,
            _dir: dir,
        };
        let start = Instant::now();
        while etcd.revision().await.is_err() {
            if start.elapsed() > Duration::from_secs(30) {
                bail!("etcd did not answer within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(etcd)
    }

    /// `etcd://127.0.0.1:PORT`, for `infrakit-group --store`.
    pub fn url(&self) -> String {
        format!("etcd://127.0.0.1:{}", self.client)
    }

    /// The store's revision now (it grows by one with every write).
    pub async fn revision(&self) -> anyhow::Result<i64> {
        let ch = Channel::from_shared(format!("http://127.0.0.1:{}", self.client))?
            .connect()
            .await?;
        let r = KvClient::new(ch)
            .range(RangeRequest {
                key: b"/".to_vec(),
                count_only: true,
                ..Default::default()
            })
            .await?
            .into_inner();
        Ok(r.header.map(|h| h.revision).unwrap_or_default())
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
