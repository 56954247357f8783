//! Test certificates made at test time (rcgen): a CA, and leaf certificates it signs,
//! written as PEM files the way an operator would mount them. Feature `testing` only.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::section::{ClientSection, ClientSettings, Names, ServerSection, ServerSettings};

/// A throw-away CA.
#[derive(Debug)]
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM.
#[derive(Clone, Debug)]
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    /// A self-signed CA named `name`.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("ca key");
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).expect("ca certificate"),
        }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `names` (DNS names or IP addresses), usable by a server and a
    /// client.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, "airan test leaf");
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes the CA as `dir/<stem>-ca.crt` and a leaf for `localhost` and `127.0.0.1` as
    /// `dir/<stem>.crt` and `dir/<stem>.key`.
    pub fn write(&self, dir: &Path, stem: &str) -> Files {
        let leaf = self.leaf(&["localhost", "127.0.0.1"]);
        let files = Files {
            ca: dir.join(format!("{stem}-ca.crt")),
            cert: dir.join(format!("{stem}.crt")),
            key: dir.join(format!("{stem}.key")),
        };
        files.write(&self.pem(), &leaf);
        files
    }
}

/// A CA file and one leaf's certificate and key files.
#[derive(Clone, Debug)]
pub struct Files {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Files {
    /// (Re)writes the three files, each replaced in one rename (as a Secret update is).
    pub fn write(&self, ca_pem: &str, leaf: &Leaf) {
        replace(&self.ca, ca_pem);
        replace(&self.cert, &leaf.cert_pem);
        replace(&self.key, &leaf.key_pem);
    }

    /// Client settings pinning this CA, presenting this leaf when `mtls`.
    pub fn client(&self, mtls: bool, reload_ms: u64) -> ClientSettings {
        client_settings(&self.ca, mtls.then_some(self), reload_ms)
    }

    /// This leaf as the mTLS client of a server whose certificate `server_ca` signed (the
    /// two sides under different CAs).
    pub fn client_of(&self, server_ca: &Path, reload_ms: u64) -> ClientSettings {
        client_settings(server_ca, Some(self), reload_ms)
    }

    /// Server settings presenting this leaf; requiring client certificates signed by
    /// `client_ca` when given.
    pub fn server(&self, client_ca: Option<&Path>, reload_ms: u64) -> ServerSettings {
        ServerSection {
            cert: self.cert.clone(),
            key: self.key.clone(),
            client_ca: client_ca.map(Path::to_path_buf),
            reload_ms,
        }
        .load(Names::Section("test.tls"), Path::new("/"))
        .expect("server settings")
    }
}

/// Client settings pinning `ca`, presenting `leaf`'s certificate and key when given.
fn client_settings(ca: &Path, leaf: Option<&Files>, reload_ms: u64) -> ClientSettings {
    ClientSection {
        ca: ca.to_path_buf(),
        cert: leaf.map(|l| l.cert.clone()),
        key: leaf.map(|l| l.key.clone()),
        server_name: None,
        reload_ms,
    }
    .load(Names::Section("test.tls"), Path::new("/"))
    .expect("client settings")
}

/// Writes `text` to `path` through a temporary file and a rename.
pub fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write pem");
    std::fs::rename(&tmp, path).expect("rename pem");
}

/// A fresh folder under the temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "airan-tls-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
