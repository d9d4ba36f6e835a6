//! What goes wrong is reported where it can be fixed: bad Properties (a misspelt field, an image
//! or box that would have to be downloaded, a missing network, a bad template) before anything
//! is created, with JSON paths; a machine that does not come up as FAILED with Vagrant's last
//! lines; and a Destroy during `vagrant up` leaves nothing behind.

use crate::support::*;
use infrakit_spi::instance::v1::*;

#[test]
fn bad_input_is_refused_with_json_paths_before_anything_is_created() {
    let Some(mut env) = Env::new("bad input") else {
        return;
    };
    let image = env.build_image("1");
    env.start_plugin(&[]);
    let mut c = env.client();
    let validate = |c: &mut Client, p: serde_json::Value| {
        c.call(async |c| {
            c.validate(ValidateRequest {
                r#type: String::new(),
                properties: p.to_string().into_bytes(),
            })
            .await
        })
    };
    validate(&mut c, serde_json::json!({"Image": image})).unwrap();

    let st = validate(&mut c, serde_json::json!({"Imag": image})).unwrap_err();
    assert_eq!(st.code(), tonic::Code::InvalidArgument);
    assert_eq!(violation_paths(&st), vec!["$.properties.Imag"]);
    assert!(
        st.message().contains("did you mean \"Image\""),
        "{}",
        st.message()
    );

    let missing = format!("infrakit-test/missing-{}:1", env.id);
    let st = validate(&mut c, serde_json::json!({"Image": missing})).unwrap_err();
    assert_eq!(violation_paths(&st), vec!["$.properties.Image"]);
    assert!(st.message().contains("never pulled"), "{}", st.message());

    let st = validate(
        &mut c,
        serde_json::json!({"Image": image, "Network": format!("ikv-none-{}", env.id)}),
    )
    .unwrap_err();
    assert_eq!(violation_paths(&st), vec!["$.properties.Network"]);

    // A box is never downloaded either: one Vagrant does not have is refused.
    let st = validate(
        &mut c,
        serde_json::json!({"Provider": "virtualbox", "Box": format!("infrakit-test/none-{}", env.id)}),
    )
    .unwrap_err();
    assert_eq!(violation_paths(&st), vec!["$.properties.Box"]);
    assert!(
        st.message().contains("never downloaded"),
        "{}",
        st.message()
    );

    let st = c
        .provision(spec(
            serde_json::json!({"Image": image}),
            &[],
            "",
            Some("10.1.2.3"),
        ))
        .unwrap_err();
    assert_eq!(violation_paths(&st), vec!["$.spec.logical_id"]);

    let tmpl = env.join("bad.Vagrantfile");
    std::fs::write(
        &tmpl,
        "Vagrant.configure(\"2\") do |c|\n  c.vm.box = {{IMAGEE}}\nend\n",
    )
    .unwrap();
    let st = c
        .provision(spec(
            serde_json::json!({"Image": image, "Template": tmpl}),
            &[],
            "",
            None,
        ))
        .unwrap_err();
    assert_eq!(violation_paths(&st), vec!["$.spec.properties.Template"]);
    assert!(
        st.message().contains("did you mean {{IMAGE}}"),
        "{}",
        st.message()
    );

    assert!(env.instance_dirs().is_empty(), "{:?}", env.instance_dirs());
    assert!(env.containers().is_empty());
    assert!(c.describe(&[]).is_empty());
}

#[test]
fn a_machine_that_does_not_come_up_is_failed_with_vagrants_last_lines() {
    let Some(mut env) = Env::new("failed up") else {
        return;
    };
    let image = env.build_image("1");
    env.start_plugin(&[]);
    let mut c = env.client();
    // The engine refuses to start the container: `vagrant up` fails, deterministically.
    let id = c
        .provision(spec(
            serde_json::json!({"Image": image, "Command": ["/bin/no-such-program"]}),
            &[],
            "",
            None,
        ))
        .unwrap();
    c.wait_state(&id, InstanceState::Failed);
    let p = props(&c.find(&id).unwrap());
    assert_eq!(p["State"], "failed");
    let output = p["Output"].to_string();
    eprintln!("failed instance properties: {p:#}");
    assert!(
        output.contains("no-such-program"),
        "the engine's error, through Vagrant: {output}"
    );
    assert!(
        output.contains("vagrant up failed (exit status 1)"),
        "{output}"
    );
    assert!(
        p["Progress"]
            .as_str()
            .unwrap()
            .contains("vagrant up failed"),
        "{p}"
    );
    c.destroy(&id).unwrap();
    assert!(env.containers().is_empty(), "{:?}", env.containers());
    assert!(env.instance_dirs().is_empty());
}

#[test]
fn a_destroy_while_vagrant_up_runs_leaves_nothing_behind() {
    let Some(mut env) = Env::new("destroy during up") else {
        return;
    };
    let image = env.build_image("1");
    env.start_plugin(&[]);
    let mut c = env.client();
    let id = c
        .provision(spec(serde_json::json!({"Image": image}), &[], SERVE, None))
        .unwrap();
    // Wait until Vagrant is at work, then destroy.
    wait_until("vagrant up to start", || {
        props(&c.find(&id).unwrap())["Progress"].is_string()
    });
    c.destroy(&id).unwrap();
    assert!(c.find(&id).is_none());
    assert!(env.instance_dirs().is_empty());
    assert!(env.containers().is_empty(), "{:?}", env.containers());
}
