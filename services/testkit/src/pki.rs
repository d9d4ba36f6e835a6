//! A throw-away certificate authority for TLS tests: the CA, a server certificate and a client
//! certificate it signed, written as PEM files.

use std::path::Path;

/// Writes into `dir`: `ca.pem`, `server.pem` and `server.key` (for `server_names`: DNS names
/// or IP addresses), and `cert.pem` and `key.pem` (a client named `client`).
pub fn write_test_pki(dir: &Path, server_names: &[&str]) {
    std::fs::create_dir_all(dir).expect("the PKI directory");
    let ca_key = rcgen::KeyPair::generate().expect("a CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // Distinct subjects: OpenSSL takes a leaf whose subject equals its issuer for self-signed.
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "infrakit-test-ca");
    let ca = ca_params.self_signed(&ca_key).expect("the CA certificate");
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let issue = |names: Vec<String>| {
        let key = rcgen::KeyPair::generate().expect("a key");
        let mut params = rcgen::CertificateParams::new(names.clone()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, names[0].as_str());
        let cert = params.signed_by(&key, &issuer).expect("a certificate");
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = issue(server_names.iter().map(|n| n.to_string()).collect());
    let (client_cert, client_key) = issue(vec!["client".into()]);
    for (f, body) in [
        ("ca.pem", ca.pem()),
        ("server.pem", server_cert),
        ("server.key", server_key),
        ("cert.pem", client_cert),
        ("key.pem", client_key),
    ] {
        std::fs::write(dir.join(f), body).expect("a PEM file");
    }
}
