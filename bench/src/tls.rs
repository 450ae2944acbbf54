//! SSM behind TLS, as every real cold start meets it: a test certificate authority, and a
//! loopback TLS terminator (rustls on ring) in front of moto_server. The functions are
//! told to trust the test CA the way operators add a CA: `SSL_CERT_FILE` (a bundle of the
//! system's roots plus the test CA, read by rustls-native-certs) for Rust,
//! `NODE_EXTRA_CA_CERTS` for Node.js.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The system bundle rustls-native-certs finds on Debian and Amazon Linux.
const SYSTEM_BUNDLES: &[&str] = &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

/// A TLS endpoint for moto, and the files that make a function trust it.
pub struct TlsSsm {
    /// `https://127.0.0.1:<port>`: the `AWS_ENDPOINT_URL` to hand the functions.
    pub endpoint: String,
    /// The test CA alone (`NODE_EXTRA_CA_CERTS`).
    pub ca_file: PathBuf,
    /// The system's roots plus the test CA (`SSL_CERT_FILE`).
    pub bundle_file: PathBuf,
}

impl TlsSsm {
    /// Makes a CA and a certificate for 127.0.0.1 signed by it, writes the trust files
    /// into `dir`, and forwards every TLS connection on a new loopback port to `moto_port`.
    pub async fn start(dir: &Path, moto_port: u16) -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "livekit-lambda bench CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
        let server_key = KeyPair::generate().expect("server key");
        let server_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("server params");
        let server = server_params.signed_by(&server_key, &ca, &ca_key).expect("server certificate");

        let ca_file = dir.join("bench-ca.pem");
        std::fs::write(&ca_file, ca.pem()).expect("write the CA");
        let system = SYSTEM_BUNDLES.iter().find_map(|path| std::fs::read_to_string(path).ok()).unwrap_or_default();
        let bundle_file = dir.join("bench-ca-bundle.pem");
        std::fs::write(&bundle_file, format!("{system}\n{}", ca.pem())).expect("write the bundle");

        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![server.der().clone(), ca.der().clone()], key)
            .expect("server certificate and key");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the TLS terminator");
        let port = listener.local_addr().expect("address").port();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = client.set_nodelay(true);
                    let Ok(mut tls) = acceptor.accept(client).await else { return };
                    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", moto_port)).await else { return };
                    let _ = upstream.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        });
        Self { endpoint: format!("https://127.0.0.1:{port}"), ca_file, bundle_file }
    }
}
