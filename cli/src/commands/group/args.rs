//! The positional forms of `set-size` (`scale`) and `destroy-instances`, which take the group ID
//! first unless `--plugin NAME/GROUP` already names the group, as InfraKit's
//! `infrakit group/cattle scale 5` did.

use super::group_id;
use crate::exit::UsageError;
use infrakit_model::PluginName;

/// What `ikctl group scale` was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scale {
    /// Print the size of this group.
    Show(String),
    /// Set the size of this group.
    Set(String, u32),
}

/// Resolves `scale [ID] [SIZE]`.
///
/// - `scale ID N` sets ID's size; `scale ID` prints it.
/// - With `--plugin group/G`: `scale` prints G's size and `scale N` (a lone number) sets it;
///   `scale ID` and `scale ID N` still name ID.
///
/// # Caveats
/// With a subtype, a lone argument made only of digits is a size, never a group ID.
pub(crate) fn scale(
    id: Option<String>,
    size: Option<u32>,
    name: &PluginName,
) -> anyhow::Result<Scale> {
    match (id, size) {
        (Some(id), Some(size)) => Ok(Scale::Set(id, size)),
        (Some(arg), None) => match (&name.subtype, arg.parse::<u32>()) {
            (Some(group), Ok(size)) if is_number(&arg) => Ok(Scale::Set(group.clone(), size)),
            _ => Ok(Scale::Show(arg)),
        },
        (None, _) => Ok(Scale::Show(group_id(None, name)?)),
    }
}

/// Resolves `destroy-instances [ID] INSTANCE...`: with `--plugin group/G` every argument is an
/// instance of G; otherwise the first is the group ID and at least one instance must follow.
pub(crate) fn destroy_instances(
    mut args: Vec<String>,
    name: &PluginName,
) -> anyhow::Result<(String, Vec<String>)> {
    if let Some(group) = &name.subtype {
        return Ok((group.clone(), args));
    }
    if args.len() < 2 {
        return Err(UsageError(
            "give the group ID and then the instances to destroy \
             (`ikctl group destroy-instances ID INSTANCE...`), or name the group with \
             --plugin group/ID"
                .to_string(),
        )
        .into());
    }
    let id = args.remove(0);
    Ok((id, args))
}

/// True for a non-empty run of ASCII digits (so `+5` stays a group ID).
fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}
