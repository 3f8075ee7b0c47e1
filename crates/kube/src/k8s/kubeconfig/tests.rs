use super::*;

const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/pki");

fn b64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn pki(name: &str) -> Vec<u8> {
    std::fs::read(format!("{PKI}/{name}")).unwrap()
}

fn write(dir: &Path, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("config.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

fn tmp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("lichen-kubeconfig-{tag}-{}", std::process::id()))
}

#[test]
fn k3s_yaml_with_client_certificate() {
    let text = format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: https://127.0.0.1:6443\n  name: default\ncontexts:\n- context:\n    cluster: default\n    user: default\n  name: default\ncurrent-context: default\nkind: Config\npreferences: {{}}\nusers:\n- name: default\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(&pki("ca.crt")),
        b64(&pki("client.crt")),
        b64(&pki("client.key"))
    );
    let dir = tmp("k3s");
    let k = KubeConfig::from_file(&write(&dir, &text)).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        k.server,
        Server {
            host: "127.0.0.1".into(),
            port: 6443,
            base_path: String::new()
        }
    );
    assert_eq!(k.ca_pem, pki("ca.crt"));
    assert_eq!(k.token, None);
    let c = k.client_cert.unwrap();
    assert_eq!(
        (c.cert_pem, c.key_pem),
        (pki("client.crt"), pki("client.key"))
    );
}

#[test]
fn current_context_picks_cluster_and_token_user_with_files() {
    let dir = tmp("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(format!("{PKI}/ca.crt"), dir.join("ca.pem")).unwrap();
    let text = "clusters:\n- name: a\n  cluster:\n    server: https://a.example:1\n    certificate-authority-data: eA==\n- name: b\n  cluster:\n    server: \"https://[fd00::1]/k8s/clusters/c-1/\"\n    certificate-authority: ca.pem\nusers:\n- name: u1\n  user:\n    client-key-data: eA==\n- name: u2\n  user:\n    token: 'sekret'\ncontexts:\n- name: one\n  context: {cluster: a}\n";
    // flow mappings are refused with their line
    assert!(matches!(
        KubeConfig::from_file(&write(&dir, text)),
        Err(ConfigError::Yaml { line: 19, .. })
    ));
    let text = text.replace(
        "  context: {cluster: a}\n",
        "  context:\n    cluster: a\n- name: two\n  context:\n    cluster: b\n    user: u2\ncurrent-context: two\n",
    );
    let k = KubeConfig::from_file(&write(&dir, &text)).unwrap();
    assert_eq!(k.server.host, "fd00::1");
    assert_eq!(k.server.port, 443);
    assert_eq!(k.server.base_path, "/k8s/clusters/c-1");
    assert_eq!(k.ca_pem, pki("ca.crt"));
    assert_eq!(k.token, Some(TokenSource::Static("sekret".into())));
    assert_eq!(k.client_cert, None);
    // a key without a certificate is an error, not silently no client auth
    let half = text.replace("current-context: two", "current-context: three")
        + "- name: three\n  context:\n    cluster: a\n    user: u1\n";
    assert!(matches!(
        KubeConfig::from_file(&write(&dir, &half)),
        Err(ConfigError::Missing(_))
    ));
    let insecure = text.replace(
        "    certificate-authority: ca.pem\n",
        "    insecure-skip-tls-verify: true\n",
    );
    assert!(matches!(
        KubeConfig::from_file(&write(&dir, &insecure)),
        Err(ConfigError::Insecure)
    ));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn service_account_dir() {
    let dir = tmp("sa");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(format!("{PKI}/ca.crt"), dir.join("ca.crt")).unwrap();
    assert!(matches!(
        KubeConfig::service_account(&dir, "10.43.0.1", "443"),
        Err(ConfigError::Read { .. })
    ));
    std::fs::write(dir.join("token"), "t1\n").unwrap();
    let k = KubeConfig::service_account(&dir, "fd00::1", "443").unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(k.server.host, "fd00::1");
    assert_eq!(k.token, Some(TokenSource::File(dir.join("token"))));
}

#[test]
fn servers() {
    assert_eq!(parse_server("https://k:6443").unwrap().port, 6443);
    assert!(parse_server("http://k:6443").is_err());
    assert!(parse_server("https://:1").is_err());
    assert!(parse_server("https://u@k").is_err());
}

#[test]
fn a_file_over_1_mib_is_refused_by_name() {
    let dir = tmp("big");
    let path = write(&dir, &"# padding\n".repeat(200_000));
    let e = KubeConfig::from_file(&path).unwrap_err();
    std::fs::remove_dir_all(&dir).ok();
    assert!(matches!(e, ConfigError::Read { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("config.yaml") && msg.contains("larger than 1 MiB"),
        "{msg}"
    );
}
