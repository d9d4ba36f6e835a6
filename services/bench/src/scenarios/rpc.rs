//! Unary RPC over a unix socket, against the plugins alone (no group controller running):
//! `Flavor/Healthy` of the vanilla flavor without a HealthCheck, and `Instance/DescribeInstances`
//! of the file plugin for a group with no instance; each from one client calling in sequence and
//! from 64 clients (each with its own connection) calling at once, bounded in calls and time.
//! Also DescribeInstances of a group of 1,000 instances, the call InfraKit's numbers give.

use crate::args::Sizes;
use crate::mesh::Mesh;
use crate::mesh::Setup;
use crate::progress;
use crate::report::{Part, Row};
use crate::stats::{fmt_count, fmt_duration, ms, percentile};
use anyhow::{Context, bail};
use infrakit_spi::flavor::v1::HealthyRequest;
use infrakit_spi::flavor::v1::flavor_client::FlavorClient;
use infrakit_spi::instance::v1::instance_client::InstanceClient;
use infrakit_spi::instance::v1::{
    DescribeInstancesRequest, InstanceDescription, InstanceSpec, ProvisionRequest,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tonic::transport::Channel;

/// The group tag the file plugin filters on.
const GROUP_TAG: &str = "infrakit.group";
/// The target p50 of a DescribeInstances of 1,000 (ahead of InfraKit's 17-25 ms).
const DESCRIBE_TARGET: Duration = Duration::from_millis(17);
/// Calls each client makes before it is measured.
const WARMUP: usize = 20;

/// The call measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    /// `Flavor/Healthy`, no HealthCheck.
    Healthy,
    /// `Instance/DescribeInstances` of a group with no instance.
    DescribeEmpty,
    /// `Instance/DescribeInstances` of the group of 1,000.
    DescribeBig,
}

/// One client: its own connection.
#[derive(Clone, Debug)]
enum Client {
    Flavor(FlavorClient<Channel>),
    Instance(InstanceClient<Channel>),
}

/// Latencies of a batch of calls.
struct Batch {
    latencies: Vec<Duration>,
    wall: Duration,
}

// === impl Call ===

impl Call {
    fn label(self) -> &'static str {
        match self {
            Call::Healthy => "`Flavor/Healthy`",
            Call::DescribeEmpty => "`Instance/DescribeInstances` (no instance)",
            Call::DescribeBig => "`Instance/DescribeInstances` of 1,000 instances",
        }
    }

    async fn client(self, mesh: &Mesh) -> anyhow::Result<Client> {
        Ok(match self {
            Call::Healthy => Client::Flavor(mesh.flavor().await?),
            Call::DescribeEmpty | Call::DescribeBig => Client::Instance(mesh.instance().await?),
        })
    }
}

// === impl Client ===

impl Client {
    async fn call(&mut self, call: Call) -> anyhow::Result<()> {
        match (self, call) {
            (Client::Flavor(c), Call::Healthy) => {
                c.healthy(HealthyRequest {
                    r#type: String::new(),
                    properties: Vec::new(),
                    instance: Some(InstanceDescription {
                        id: "instance-0123456789abcdef".to_string(),
                        ..Default::default()
                    }),
                })
                .await?;
            }
            (Client::Instance(c), Call::DescribeEmpty | Call::DescribeBig) => {
                let group = if call == Call::DescribeBig {
                    "big"
                } else {
                    "empty"
                };
                c.describe_instances(DescribeInstancesRequest {
                    r#type: String::new(),
                    tags: [(GROUP_TAG.to_string(), group.to_string())].into(),
                    properties: false,
                    unless_revision: 0,
                })
                .await?;
            }
            _ => bail!("this client cannot make that call"),
        }
        Ok(())
    }
}

/// `calls` calls in sequence from one client, after a warm-up.
async fn sequential(mesh: &Mesh, call: Call, calls: usize) -> anyhow::Result<Batch> {
    let mut c = call.client(mesh).await?;
    for _ in 0..WARMUP * 10 {
        c.call(call).await?;
    }
    let mut latencies = Vec::with_capacity(calls);
    let start = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        c.call(call).await?;
        latencies.push(t.elapsed());
    }
    Ok(Batch {
        latencies,
        wall: start.elapsed(),
    })
}

/// `total` calls shared by `clients` concurrent clients, each on its own connection; stops
/// early after `max_time`.
async fn concurrent(
    mesh: &Mesh,
    call: Call,
    clients: usize,
    total: usize,
    max_time: Duration,
) -> anyhow::Result<Batch> {
    let mut ready = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut c = call.client(mesh).await?;
        for _ in 0..WARMUP {
            c.call(call).await?;
        }
        ready.push(c);
    }
    let tickets = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + max_time;
    let mut set = JoinSet::new();
    for mut c in ready {
        let tickets = tickets.clone();
        set.spawn(async move {
            let mut lat = Vec::new();
            while tickets.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < deadline {
                let t = Instant::now();
                c.call(call).await?;
                lat.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(lat)
        });
    }
    let mut latencies = Vec::with_capacity(total);
    while let Some(r) = set.join_next().await {
        latencies.extend(r.context("a client task panicked")??);
    }
    Ok(Batch {
        latencies,
        wall: start.elapsed(),
    })
}

/// Creates `n` instances of group `big` through the plugin, 16 at a time.
async fn provision(mesh: &Mesh, n: u32) -> anyhow::Result<()> {
    let client = mesh.instance().await?;
    let mut set = JoinSet::new();
    let next = Arc::new(AtomicUsize::new(0));
    for _ in 0..16 {
        let mut c = client.clone();
        let next = next.clone();
        set.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n as usize {
                c.provision(ProvisionRequest {
                    fence: None,
                    r#type: String::new(),
                    spec: Some(InstanceSpec {
                        properties: br#"{"Note":"bench"}"#.to_vec(),
                        tags: [(GROUP_TAG.to_string(), "big".to_string())].into(),
                        ..Default::default()
                    }),
                })
                .await?;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.context("a provisioning task panicked")??;
    }
    Ok(())
}

/// The table cell and JSON of a batch.
fn describe(b: &Batch) -> (String, Value) {
    let p50 = percentile(&b.latencies, 50.0);
    let p99 = percentile(&b.latencies, 99.0);
    let rate = b.latencies.len() as f64 / b.wall.as_secs_f64();
    (
        format!(
            "p50 {} · p99 {} · {} calls/s",
            fmt_duration(p50),
            fmt_duration(p99),
            fmt_count(rate.round() as u64)
        ),
        json!({
            "calls": b.latencies.len(),
            "wall_ms": ms(b.wall),
            "p50_ms": ms(p50),
            "p99_ms": ms(p99),
            "calls_per_s": rate.round(),
        }),
    )
}

/// Runs the scenario.
pub async fn run(setup: &Setup, sizes: &Sizes) -> anyhow::Result<Part> {
    let mut mesh = Mesh::new(setup)?;
    mesh.start_plugins().await?;
    let mut rows = Vec::new();
    let mut details = serde_json::Map::new();
    for call in [Call::Healthy, Call::DescribeEmpty] {
        let one = sequential(&mesh, call, sizes.rpc_sequential).await?;
        let many = concurrent(
            &mesh,
            call,
            sizes.rpc_clients,
            sizes.rpc_concurrent,
            sizes.rpc_max_time,
        )
        .await?;
        let (c1, j1) = describe(&one);
        let (cn, jn) = describe(&many);
        progress(format!("rpc {}: 1 client: {c1}", call.label()));
        progress(format!(
            "rpc {}: {} clients: {cn}",
            call.label(),
            sizes.rpc_clients
        ));
        rows.push(Row::new(
            format!("unary {}, 1 client", call.label()),
            c1,
            "—",
            "(reported)",
            None,
        ));
        rows.push(Row::new(
            format!("unary {}, {} clients", call.label(), sizes.rpc_clients),
            cn,
            "—",
            "(reported)",
            None,
        ));
        details.insert(
            format!("{call:?}"),
            json!({"one_client": j1, "concurrent": jn, "clients": sizes.rpc_clients}),
        );
    }
    provision(&mesh, sizes.describe_size).await?;
    let big = sequential(&mesh, Call::DescribeBig, 200).await?;
    let (cell, j) = describe(&big);
    progress(format!(
        "rpc DescribeInstances of {}: {cell}",
        sizes.describe_size
    ));
    let p50 = percentile(&big.latencies, 50.0);
    rows.push(Row::new(
        format!(
            "`Instance/DescribeInstances` of {} instances, 1 client",
            fmt_count(sizes.describe_size.into())
        ),
        cell,
        "17-25 ms",
        "< 17 ms (ahead of InfraKit)",
        Some(p50 < DESCRIBE_TARGET),
    ));
    details.insert("DescribeBig".to_string(), j);
    mesh.check_alive()?;
    Ok(Part {
        rows,
        details: Value::Object(details),
    })
}
