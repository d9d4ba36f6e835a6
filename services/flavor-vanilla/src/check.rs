//! Running a `HealthCheck` command for one instance.

use infrakit_spi::flavor::v1::Health;
use infrakit_spi::instance::v1::InstanceDescription;
use std::process::Stdio;
use std::time::Duration;

/// How long a health check may run.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `command` for `instance`; returns the verdict and a reason.
pub async fn run(command: &str, instance: &InstanceDescription) -> (Health, String) {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env("INFRAKIT_INSTANCE_ID", &instance.id)
        .env(
            "INFRAKIT_LOGICAL_ID",
            instance.logical_id.as_deref().unwrap_or(""),
        )
        .env(
            "INFRAKIT_GROUP",
            instance
                .tags
                .get(infrakit_model::tags::GROUP)
                .map(String::as_str)
                .unwrap_or(""),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in &instance.tags {
        cmd.env(format!("INFRAKIT_TAG_{}", env_name(k)), v);
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (Health::Unknown, format!("cannot run the health check: {e}")),
    };
    match tokio::time::timeout(CHECK_TIMEOUT, child.wait_with_output()).await {
        Err(_) => (
            Health::Unhealthy,
            format!("health check gave no answer within {CHECK_TIMEOUT:?}"),
        ),
        Ok(Err(e)) => (Health::Unknown, format!("health check failed to run: {e}")),
        Ok(Ok(out)) if out.status.success() => (Health::Healthy, "health check passed".into()),
        Ok(Ok(out)) => {
            let first = String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect::<String>();
            let code = out
                .status
                .code()
                .map_or("a signal".to_string(), |c| c.to_string());
            if first.is_empty() {
                (
                    Health::Unhealthy,
                    format!("health check exited with {code}"),
                )
            } else {
                (
                    Health::Unhealthy,
                    format!("health check exited with {code}: {first}"),
                )
            }
        }
    }
}

/// A tag name as an environment variable suffix: upper case, non-alphanumerics as `_`.
fn env_name(tag: &str) -> String {
    tag.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exit_status_is_the_verdict_and_tags_are_in_the_environment() {
        let mut i = InstanceDescription {
            id: "i-1".into(),
            ..Default::default()
        };
        i.tags.insert("infrakit.group".into(), "g".into());
        let (h, _) = run(
            "test \"$INFRAKIT_INSTANCE_ID/$INFRAKIT_GROUP/$INFRAKIT_TAG_INFRAKIT_GROUP\" = i-1/g/g",
            &i,
        )
        .await;
        assert_eq!(h, Health::Healthy);
        let (h, why) = run("echo broken >&2; exit 3", &i).await;
        assert_eq!(h, Health::Unhealthy);
        assert_eq!(why, "health check exited with 3: broken");
    }
}
