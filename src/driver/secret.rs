//! Resolving credential references (`env:`, `file:`, `credential:`) into secrets, at the last
//! moment, held in `secrecy` types so they are never printed.
//!
//! Owns: the lookup rules. `credential:NAME` reads `$CREDENTIALS_DIRECTORY/NAME` (systemd
//! `LoadCredential=`). Must not log or return the secret in any error.

use std::path::Path;

use secrecy::SecretString;

use crate::model::values::SecretRef;

/// Where resolution looks, so tests need not touch the process environment.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Resolve a reference. The error says what is missing, never the secret.
pub fn resolve(reference: &SecretRef, env: &dyn Env) -> Result<SecretString, String> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| format!("cannot read {}: {}", path.display(), e.kind()))
    };
    let value = match reference {
        SecretRef::Env(name) => env
            .var(name)
            .ok_or_else(|| format!("environment variable {name} is not set"))?,
        SecretRef::File(path) => read(Path::new(path))?,
        SecretRef::Credential(name) => {
            let dir = env.var("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                "CREDENTIALS_DIRECTORY is not set (not started by systemd with LoadCredential=)"
                    .to_string()
            })?;
            read(&Path::new(&dir).join(name))?
        }
    };
    if value.is_empty() {
        return Err("the secret is empty".into());
    }
    Ok(SecretString::from(value))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    struct Fake(HashMap<&'static str, String>);
    impl Env for Fake {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    #[test]
    fn resolves_each_kind_and_never_echoes_the_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("pw"), "s3cret\n").expect("write");
        let env = Fake(HashMap::from([
            ("PW", "from-env".to_string()),
            ("CREDENTIALS_DIRECTORY", dir.path().display().to_string()),
        ]));
        assert_eq!(
            resolve(&SecretRef::Env("PW".into()), &env)
                .expect("env")
                .expose_secret(),
            "from-env"
        );
        let file = SecretRef::File(dir.path().join("pw").display().to_string());
        assert_eq!(
            resolve(&file, &env).expect("file").expose_secret(),
            "s3cret"
        );
        assert_eq!(
            resolve(&SecretRef::Credential("pw".into()), &env)
                .expect("cred")
                .expose_secret(),
            "s3cret"
        );
        assert_eq!(
            resolve(&SecretRef::Env("NOPE".into()), &env).unwrap_err(),
            "environment variable NOPE is not set"
        );
        let missing = resolve(&SecretRef::File("/nonexistent/x".into()), &env).unwrap_err();
        assert!(missing.contains("cannot read /nonexistent/x"), "{missing}");
        let dbg = format!(
            "{:?}",
            resolve(&SecretRef::Env("PW".into()), &env).expect("env")
        );
        assert!(!dbg.contains("from-env"), "{dbg}");
    }
}
