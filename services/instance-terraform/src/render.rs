//! Rendering an instance into Terraform JSON: the file that creates it, the file that destroys
//! it, and the file of a pet's kept resources. Pure: the same input gives the same bytes.
//!
//! # Why a `removed` file, not a deleted file
//! Deleting an instance's file would make Terraform destroy its resources *without* their
//! destroy-time provisioners (they go with the resource block), leaking whatever those clean up.
//! So destroying replaces the file with `removed` blocks (Terraform 1.9+) that carry the
//! resource's destroy-time provisioners and connection; once Terraform has applied them, the
//! file is deleted. Extras kept by a cattle instance get `lifecycle.destroy = false` (Terraform
//! forgets them); a pet's kept extras live in their own file and are not touched.

use crate::names::{self, address, escape_literal};
use crate::properties::TfProperties;
use infrakit_model::Violations;
use infrakit_model::json_path::key;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The instance being rendered.
#[derive(Clone, Copy, Debug)]
pub struct Instance<'a> {
    /// The instance ID.
    pub id: &'a str,
    /// The pet identity, if any.
    pub logical_id: Option<&'a str>,
    /// The instance's tags.
    pub tags: &'a BTreeMap<String, String>,
    /// The Init script.
    pub init: &'a str,
}

/// Everything Terraform needs for one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// The address of the instance's main resource.
    pub address: String,
    /// `<id>.tf.json` while the instance should exist.
    pub file: Value,
    /// `<id>.tf.json` while the instance is being destroyed.
    pub removal: Value,
    /// A pet's kept resources: the file name and its content.
    pub pet: Option<(String, Value)>,
    /// The addresses that must have left the state before a destroy is complete.
    pub owned: Vec<String>,
    /// The resource types it uses (a new one needs `terraform init`).
    pub resource_types: BTreeSet<String>,
}

/// One resource: type, name and body.
struct Block {
    resource_type: String,
    name: String,
    body: Map<String, Value>,
}

/// Renders `inst` from `props`. `at` is the JSON path of the Properties, for violations.
pub fn render(props: &TfProperties, inst: &Instance<'_>, at: &str) -> Result<Rendered, Violations> {
    let id = inst.id;
    let pet = inst.logical_id.map(names::pet_key);
    let main_address = address(&props.resource_type, id);

    // Names and placeholder values.
    let mut values = BTreeMap::from([
        ("id".to_string(), id.to_string()),
        (
            "logical_id".to_string(),
            escape_literal(inst.logical_id.unwrap_or(id)),
        ),
        ("self".to_string(), main_address.clone()),
    ]);
    let mut extras = Vec::new();
    for (name, extra) in &props.extras {
        let pet_kept = extra.keep && pet.is_some();
        let resource_name = match &pet {
            Some(key) if pet_kept => names::pet_resource_name(key, name),
            _ => names::extra_resource_name(id, name),
        };
        values.insert(
            format!("extra.{name}"),
            address(&extra.resource_type, &resource_name),
        );
        extras.push((name, extra, resource_name, pet_kept));
    }

    // The main resource, with the plugin's values written in.
    let mut body = Value::Object(props.body.clone());
    names::substitute_json(&mut body, &values);
    let Value::Object(mut body) = body else {
        return Err(Violations::new());
    };
    props.mapping.inject(
        &mut body,
        &crate::mapping::Injected {
            id,
            logical_id: inst.logical_id,
            tags: inst.tags,
            init: inst.init,
        },
        &key(&key(at, "resource"), &props.resource_type),
    )?;
    let main = Block {
        resource_type: props.resource_type.clone(),
        name: id.to_string(),
        body,
    };

    let mut own = vec![main];
    let mut kept_by_pet = Vec::new();
    let mut forgotten = Vec::new();
    for (_, extra, resource_name, pet_kept) in extras {
        let mut b = Value::Object(extra.body.clone());
        names::substitute_json(&mut b, &values);
        let Value::Object(body) = b else {
            continue;
        };
        let block = Block {
            resource_type: extra.resource_type.clone(),
            name: resource_name,
            body,
        };
        if pet_kept {
            kept_by_pet.push(block);
        } else if extra.keep {
            forgotten.push(block);
        } else {
            own.push(block);
        }
    }

    let mut file = Map::new();
    file.insert(
        "resource".into(),
        resources(own.iter().chain(forgotten.iter())),
    );
    if let Some(c) = &props.check {
        file.insert(
            "check".into(),
            json!({ id: {"assert": [{
                "condition": guarded(&names::substitute(c, &values)),
                "error_message": format!("the check of instance {id} failed"),
            }]}}),
        );
    }

    let mut removed: Vec<Value> = own.iter().map(removed_block).collect();
    removed.extend(forgotten.iter().map(
        |b| json!({"from": address(&b.resource_type, &b.name), "lifecycle": {"destroy": false}}),
    ));

    let owned = own
        .iter()
        .chain(forgotten.iter())
        .map(|b| address(&b.resource_type, &b.name))
        .collect();
    let pet = match pet {
        Some(key) if !kept_by_pet.is_empty() => Some((
            names::pet_file(&key),
            json!({"resource": resources(kept_by_pet.iter())}),
        )),
        _ => None,
    };
    let resource_types = std::iter::once(props.resource_type.clone())
        .chain(props.extras.values().map(|x| x.resource_type.clone()))
        .collect();
    Ok(Rendered {
        address: main_address,
        file: Value::Object(file),
        removal: json!({ "removed": removed }),
        pet,
        owned,
        resource_types,
    })
}

/// A check condition whose evaluation errors count as a failed check: `${try(EXPR, false)}`.
fn guarded(condition: &str) -> String {
    match crate::properties::condition_expression(condition) {
        Some(expr) => format!("${{try({expr}, false)}}"),
        None => condition.to_string(),
    }
}

/// `{"<type>": {"<name>": body, ...}, ...}`.
fn resources<'a>(blocks: impl Iterator<Item = &'a Block>) -> Value {
    let mut by_type: Map<String, Value> = Map::new();
    for b in blocks {
        let entry = by_type
            .entry(b.resource_type.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(o) = entry {
            o.insert(b.name.clone(), Value::Object(b.body.clone()));
        }
    }
    Value::Object(by_type)
}

/// A `removed` block that destroys the resource, running its destroy-time provisioners.
fn removed_block(b: &Block) -> Value {
    let mut r = Map::new();
    r.insert(
        "from".into(),
        Value::String(address(&b.resource_type, &b.name)),
    );
    r.insert("lifecycle".into(), json!({"destroy": true}));
    let provisioners = destroy_provisioners(b.body.get("provisioner"));
    if !provisioners.is_empty() {
        r.insert("provisioner".into(), Value::Array(provisioners));
    }
    if let Some(c) = b.body.get("connection") {
        r.insert("connection".into(), c.clone());
    }
    Value::Object(r)
}

/// The destroy-time provisioners of a resource, in order, as `[{"<type>": {...}}]`. Terraform's
/// JSON syntax allows `{"t": {...}}`, `{"t": [{...}]}` and arrays of either.
pub fn destroy_provisioners(p: Option<&Value>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut visit = |obj: &Map<String, Value>| {
        for (t, cfg) in obj {
            let configs: Vec<&Value> = match cfg {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            for c in configs {
                if c.get("when").and_then(Value::as_str) == Some("destroy") {
                    out.push(json!({ t.clone(): c.clone() }));
                }
            }
        }
    };
    match p {
        Some(Value::Object(o)) => visit(o),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).for_each(visit),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::properties::parse;

    fn props(v: Value) -> TfProperties {
        parse(&v, "$").unwrap()
    }

    fn tags() -> BTreeMap<String, String> {
        [("infrakit.group".to_string(), "g".to_string())].into()
    }

    const ID: &str = "instance-0123456789abcdef";

    fn spec() -> Value {
        json!({
            "resource": {"terraform_data": {
                "input": {"pidfile": "/run/{{id}}.pid"},
                "provisioner": [
                    {"local-exec": {"command": "start"}},
                    {"local-exec": {"when": "destroy", "command": "kill ${self.input.pidfile}"}}
                ]}},
            "extra": {
                "disk": {"resource": {"terraform_data": {"input": {"of": "{{self}}"},
                    "provisioner": {"local-exec": [{"when": "destroy", "command": "rm disk"}]}}}},
                "ip": {"resource": {"terraform_data": {"input": "{{logical_id}}"}}, "keep": true}
            },
            "check": "${fileexists({{self}}.output.pidfile)}"
        })
    }

    #[test]
    fn cattle_file_has_the_resource_its_extras_and_the_check() {
        let tags = tags();
        let r = render(
            &props(spec()),
            &Instance {
                id: ID,
                logical_id: None,
                tags: &tags,
                init: "echo ${x}",
            },
            "$",
        )
        .unwrap();
        assert_eq!(r.address, format!("terraform_data.{ID}"));
        let res = &r.file["resource"]["terraform_data"];
        assert_eq!(res[ID]["input"]["pidfile"], format!("/run/{ID}.pid"));
        assert_eq!(res[ID]["input"]["init"], "echo $${x}");
        assert_eq!(res[ID]["input"]["tags"]["infrakit.group"], "g");
        assert_eq!(
            res[format!("{ID}-disk")]["input"]["of"],
            format!("terraform_data.{ID}")
        );
        assert_eq!(res[format!("{ID}-ip")]["input"], ID);
        assert_eq!(
            r.file["check"][ID]["assert"][0]["condition"],
            format!("${{try(fileexists(terraform_data.{ID}.output.pidfile), false)}}")
        );
        assert!(r.pet.is_none());
        assert_eq!(r.owned.len(), 3);
    }

    #[test]
    fn removal_carries_destroy_provisioners_and_forgets_kept_cattle_extras() {
        let tags = tags();
        let r = render(
            &props(spec()),
            &Instance {
                id: ID,
                logical_id: None,
                tags: &tags,
                init: "",
            },
            "$",
        )
        .unwrap();
        assert_eq!(
            r.removal,
            json!({"removed": [
                {"from": format!("terraform_data.{ID}"), "lifecycle": {"destroy": true},
                 "provisioner": [{"local-exec": {"when": "destroy", "command": "kill ${self.input.pidfile}"}}]},
                {"from": format!("terraform_data.{ID}-disk"), "lifecycle": {"destroy": true},
                 "provisioner": [{"local-exec": {"when": "destroy", "command": "rm disk"}}]},
                {"from": format!("terraform_data.{ID}-ip"), "lifecycle": {"destroy": false}}
            ]})
        );
    }

    #[test]
    fn a_pets_kept_extra_lives_in_the_pet_file_named_by_logical_id() {
        let tags = tags();
        let r = render(
            &props(spec()),
            &Instance {
                id: ID,
                logical_id: Some("db-1"),
                tags: &tags,
                init: "",
            },
            "$",
        )
        .unwrap();
        let key = names::pet_key("db-1");
        let (file, content) = r.pet.unwrap();
        assert_eq!(file, format!("{key}.tf.json"));
        assert_eq!(
            content["resource"]["terraform_data"][format!("{key}-ip")]["input"],
            "db-1"
        );
        assert!(
            r.file["resource"]["terraform_data"]
                .get(format!("{ID}-ip"))
                .is_none()
        );
        assert_eq!(r.removal["removed"].as_array().unwrap().len(), 2);
        assert_eq!(r.owned.len(), 2);
        assert_eq!(
            r.file["resource"]["terraform_data"][ID]["input"]["logical_id"],
            "db-1"
        );
    }

    #[test]
    fn rendering_is_deterministic() {
        let tags = tags();
        let inst = Instance {
            id: ID,
            logical_id: None,
            tags: &tags,
            init: "x",
        };
        let a = render(&props(spec()), &inst, "$").unwrap();
        let b = render(&props(spec()), &inst, "$").unwrap();
        assert_eq!(a.file.to_string(), b.file.to_string());
    }

    #[test]
    fn the_example_group_renders() {
        let spec: Value = serde_json::from_str(include_str!("../examples/group.json")).unwrap();
        let p = props(spec["Properties"]["Instance"]["Properties"].clone());
        let tags = tags();
        let r = render(
            &p,
            &Instance {
                id: ID,
                logical_id: None,
                tags: &tags,
                init: "exec sleep 1",
            },
            "$",
        )
        .unwrap();
        assert_eq!(
            r.file["resource"]["terraform_data"][ID]["input"]["pidfile"],
            format!("/tmp/ik/run/{ID}.pid")
        );
        assert_eq!(
            r.removal["removed"][0]["provisioner"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn provisioner_shapes_are_all_understood() {
        let p = json!({"local-exec": {"when": "destroy", "command": "a"}, "remote-exec": {"inline": []}});
        assert_eq!(destroy_provisioners(Some(&p)).len(), 1);
        assert!(destroy_provisioners(None).is_empty());
    }
}
