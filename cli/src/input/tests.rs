use super::*;
use serde_json::json;

#[test]
fn json_is_read_as_json() {
    let v = parse("f.json", r#"{"image": "busybox", "n": 2}"#).unwrap();
    assert_eq!(v, json!({"image": "busybox", "n": 2}));
}

#[test]
fn yaml_is_read_when_the_text_is_not_json() {
    let v = parse("f.yaml", "image: busybox\nn: 2\nports: [80, 443]\n").unwrap();
    assert_eq!(v, json!({"image": "busybox", "n": 2, "ports": [80, 443]}));
}

#[test]
fn yaml_keeps_yes_and_on_as_strings() {
    let v = parse("f.yaml", "a: yes\nb: on\nc: true\n").unwrap();
    assert_eq!(v, json!({"a": "yes", "b": "on", "c": true}));
}

#[test]
fn a_byte_order_mark_is_ignored() {
    assert_eq!(parse("f", "\u{feff}{\"a\": 1}").unwrap(), json!({"a": 1}));
}

#[test]
fn broken_json_names_the_file_line_and_column() {
    let e = parse("spec.json", "{\n  \"a\": 1,\n}\n").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("spec.json: invalid JSON at line 3, column 1: "),
        "{msg}"
    );
    assert!(
        !msg.ends_with("column 1"),
        "the position is not repeated: {msg}"
    );
}

#[test]
fn broken_yaml_names_the_file_line_and_column() {
    let e = parse("spec.yaml", "a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
    let InputError::Syntax {
        origin,
        format,
        line,
        ..
    } = &e
    else {
        panic!("expected a syntax error, got {e:?}");
    };
    assert_eq!((origin.as_str(), *format), ("spec.yaml", "YAML"));
    assert!(*line >= 2, "{e}");
    assert!(
        e.to_string()
            .starts_with("spec.yaml: invalid YAML at line "),
        "{e}"
    );
    assert_eq!(
        e.to_string().matches("line").count(),
        1,
        "the position is not repeated: {e}"
    );
}

#[test]
fn duplicate_yaml_keys_are_an_error() {
    let e = parse("d.yaml", "a: 1\na: 2\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "d.yaml: invalid YAML at line 2, column 1: duplicate mapping key: a"
    );
}

#[test]
fn empty_input_is_an_error() {
    for text in ["", "  \n", "# only a comment\n"] {
        let e = parse("<stdin>", text).unwrap_err();
        assert!(matches!(e, InputError::Empty { .. }), "{text:?}: {e:?}");
        assert_eq!(
            e.to_string(),
            "<stdin> is empty (expected a JSON or YAML document)"
        );
    }
}

#[test]
fn a_file_is_read_and_a_missing_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("props.yml");
    std::fs::write(&path, "image: busybox\n").unwrap();
    let doc = Source::parse(path.to_str().unwrap()).read("x").unwrap();
    assert_eq!(doc.value, json!({"image": "busybox"}));
    assert_eq!(doc.origin, path.display().to_string());

    let missing = dir.path().join("nope.json");
    let e = Source::File(missing.clone()).read("x").unwrap_err();
    assert_eq!(e.to_string(), format!("cannot read {}", missing.display()));
}

#[test]
fn dash_is_stdin() {
    assert_eq!(Source::parse("-"), Source::Stdin);
    assert_eq!(Source::Stdin.origin(), "<stdin>");
}
