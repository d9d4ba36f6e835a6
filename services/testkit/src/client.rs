//! Dialling plugins, and blocking gRPC clients for `#[test]` code.

use infrakit_runtime::ListenAddr;
use infrakit_spi::flavor::v1::flavor_client::FlavorClient;
use std::path::Path;
use tokio::runtime::Runtime;
use tonic::transport::Channel;

/// A runtime for blocking test code that makes gRPC calls. It has one worker thread, so that
/// tasks spawned on it (a watch stream's reader, the channel's own) run between calls.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// True when the unix socket `sock` exists and answers a `grpc.health` check with SERVING.
pub fn serving(sock: &Path) -> bool {
    if !sock.exists() {
        return false;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(infrakit_runtime::dial::serving(
        &ListenAddr::Unix(sock.to_path_buf()),
        false,
        &Default::default(),
    ))
}

/// A gRPC channel to the plugin on unix socket `sock`, living on `rt`.
pub fn channel(rt: &Runtime, sock: &Path) -> Channel {
    rt.block_on(infrakit_runtime::dial::connect(
        &ListenAddr::Unix(sock.to_path_buf()),
        false,
        &Default::default(),
    ))
    .unwrap_or_else(|e| panic!("connect to {}: {e}", sock.display()))
}

/// A generated gRPC client `C` and the runtime its channel lives on, for blocking test code.
/// The fields are public for what the helpers do not cover (a second clone of the client for
/// concurrent calls, a stream read with a timeout on `rt`).
pub struct Blocking<C> {
    /// The generated client.
    pub c: C,
    /// Its channel, for clients of other services on the same socket.
    pub ch: Channel,
    /// The runtime calls run on (dropped last: the channel's tasks live on it).
    pub rt: Runtime,
}

impl<C> Blocking<C> {
    /// Connects to the plugin on unix socket `sock`; `new` makes the generated client from the
    /// channel (e.g. `InstanceClient::new`).
    pub fn connect(sock: &Path, new: impl FnOnce(Channel) -> C) -> Self {
        let rt = runtime();
        let ch = channel(&rt, sock);
        Self {
            c: new(ch.clone()),
            ch,
            rt,
        }
    }

    /// Runs one call and unwraps its response: `c.call(async |c| c.validate(req).await)`.
    pub fn call<T>(
        &mut self,
        f: impl AsyncFnOnce(&mut C) -> Result<tonic::Response<T>, tonic::Status>,
    ) -> Result<T, tonic::Status> {
        let c = &mut self.c;
        self.rt
            .block_on(async { f(c).await.map(tonic::Response::into_inner) })
    }
}

/// A blocking Flavor client.
pub type Flavor = Blocking<FlavorClient<Channel>>;

/// The field paths (`$.properties.Image`) of the BadRequest violations a status carries.
pub fn violation_paths(st: &tonic::Status) -> Vec<String> {
    infrakit_runtime::status::violations_of(st)
        .into_iter()
        .map(|v| v.path)
        .collect()
}
