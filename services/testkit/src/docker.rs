//! The Docker CLI, for tests against the real engine: running it, requiring an engine, images
//! built from local files (nothing is pulled), and removing what a test created.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Where Debian's `busybox-static` puts its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// Runs `docker ARGS...` (with the classic builder: `DOCKER_BUILDKIT=0`).
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .expect("run the docker CLI")
}

/// Runs `docker ARGS...`, failing the test unless it succeeds; returns stdout, trimmed.
pub fn docker_ok(args: &[&str]) -> String {
    let o = docker(args);
    assert!(
        o.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Fails `test` unless a Docker engine answers, saying how to start one or skip the tests with
/// `INFRAKIT_SKIP_DOCKER=1` (which the caller checks first, with [`crate::skip`]).
pub fn require_engine(test: &str) {
    let v = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert!(
        v.status.success(),
        "{test} needs a Docker engine, and `docker version` failed: {}\n\
         (start dockerd, or set INFRAKIT_SKIP_DOCKER=1 to skip these tests on a machine without one)",
        String::from_utf8_lossy(&v.stderr).trim()
    );
}

/// Fails the test unless Debian's static busybox is installed; `fix` says how to install it.
pub fn require_busybox(fix: &str) {
    assert!(Path::new(BUSYBOX).exists(), "{BUSYBOX} is missing: {fix}");
}

/// Builds image `name` from local files (no pull): busybox in an empty image, with `applets`
/// (e.g. `sh`, `sleep`) linked in `/bin`, `labels` as image labels, and `sleep 3600` as its
/// command. `ctx` is the build context directory to create. Callers remove the image.
pub fn busybox_image(ctx: &Path, name: &str, applets: &[&str], labels: &[(&str, &str)]) {
    let bin = ctx.join("rootfs/bin");
    std::fs::create_dir_all(&bin).expect("an image context");
    std::fs::copy(BUSYBOX, bin.join("busybox")).expect("copy busybox");
    for applet in applets {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("an applet link");
    }
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let dockerfile = format!(
        "FROM scratch\nCOPY rootfs/ /\nLABEL {}\nCMD [\"sleep\", \"3600\"]\n",
        labels.join(" ")
    );
    std::fs::write(ctx.join("Dockerfile"), dockerfile).expect("a Dockerfile");
    docker_ok(&["build", "-q", "-t", name, &ctx.display().to_string()]);
}

/// Removes (`rm -f -v`: with their anonymous volumes) every container matching any one of
/// `filters` (e.g. `label=infrakit-test.run=<run>`); errors are ignored (cleanup).
pub fn remove_containers(filters: &[String]) {
    for filter in filters {
        let ids = docker(&["ps", "-aq", "--filter", filter]);
        let ids = String::from_utf8_lossy(&ids.stdout).to_string();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids);
            let _ = docker(&args);
        }
    }
}
