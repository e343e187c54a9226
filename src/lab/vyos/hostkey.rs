//! Stable SSH host keys: one ed25519 key per appliance, derived from its name, so that a
//! client's `known_hosts` entry survives lab restarts.
//!
//! Owns the derivation (seed = SHA-256 of `vnfsync-lab:<name>`) and the public forms of the key.
//! Must not be used for anything but the lab: the private key is as public as the name.

use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey};
use sha2::{Digest, Sha256};

/// An appliance's host key and its public forms.
#[derive(Debug, Clone)]
pub struct HostKey {
    pub key: PrivateKey,
    /// `ssh-ed25519 AAAA...` (no comment), as in `known_hosts`.
    pub public_openssh: String,
    /// `SHA256:...`, as `ssh-keygen -lf` and the ssh client print it.
    pub fingerprint: String,
}

/// The host key of the appliance called `name`.
pub fn host_key(name: &str) -> HostKey {
    let digest = Sha256::digest(format!("vnfsync-lab:{name}").as_bytes());
    let mut seed = [0u8; 32];
    seed.copy_from_slice(digest.as_slice());
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    let public = key.public_key();
    let public_openssh = public
        .to_openssh()
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_default();
    let fingerprint = public.fingerprint(HashAlg::Sha256).to_string();
    HostKey {
        key,
        public_openssh,
        fingerprint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_distinct() {
        let a = host_key("r1");
        let b = host_key("r1");
        let c = host_key("r2");
        assert_eq!(a.public_openssh, b.public_openssh);
        assert_ne!(a.public_openssh, c.public_openssh);
        assert!(
            a.public_openssh.starts_with("ssh-ed25519 AAAA"),
            "{}",
            a.public_openssh
        );
        assert_eq!(a.public_openssh.split(' ').count(), 2);
        assert!(a.fingerprint.starts_with("SHA256:"), "{}", a.fingerprint);
    }
}
