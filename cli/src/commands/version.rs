//! `ikctl version`.

use crate::context::Context;
use crate::output::{self, Format};
use serde_json::{Value, json};

/// ikctl's version as JSON: `{"name": "ikctl", "revision", "type": "cli", "version"}`, the same
/// shape as every plugin's `version`.
pub fn version_json() -> Value {
    json!({
        "name": "ikctl",
        "revision": infrakit_spi::REVISION,
        "type": "cli",
        "version": infrakit_spi::VERSION,
    })
}

/// Renders the version in a format; `table` is `ikctl <version> (<revision>)`.
pub fn render(format: Format) -> anyhow::Result<String> {
    match format {
        Format::Table => Ok(format!(
            "ikctl {} ({})\n",
            infrakit_spi::VERSION,
            infrakit_spi::REVISION
        )),
        f => output::structured(f, &version_json()),
    }
}

/// Prints the version.
pub fn run(ctx: &Context) -> anyhow::Result<()> {
    output::emit(&render(ctx.output)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_plugin_version_shape() {
        let v: Value = serde_json::from_str(&render(Format::Json).unwrap()).unwrap();
        assert_eq!(v["name"], "ikctl");
        assert_eq!(v["type"], "cli");
        assert_eq!(v["version"], infrakit_spi::VERSION);
        assert_eq!(v["revision"], infrakit_spi::REVISION);
    }

    #[test]
    fn table_is_one_line() {
        let s = render(Format::Table).unwrap();
        assert!(s.starts_with("ikctl "), "{s}");
        assert_eq!(s.lines().count(), 1);
    }
}
