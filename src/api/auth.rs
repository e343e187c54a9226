//! Bearer tokens: the token file, its hashed entries, scopes and tenants.
//!
//! Owns: parsing the token file (one token a line: `NAME SCOPES TENANT SHA256-HEX`, `-` for no
//! tenant, `#` comments), hashing a presented token and finding its entry with a constant-time
//! comparison. Only hashes are held; a token itself is never stored or logged.
//! Must not decide what a tenant may see: the router filters by the tenant returned here.

use std::path::Path;

use sha2::{Digest, Sha256};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
}

/// One token file entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub name: String,
    pub read: bool,
    pub write: bool,
    /// Limited to appliances whose `tenant` label has this value.
    pub tenant: Option<String>,
    hash: [u8; 32],
}

impl Token {
    pub fn allows(&self, scope: Scope) -> bool {
        match scope {
            Scope::Read => self.read || self.write,
            Scope::Write => self.write,
        }
    }
}

/// A problem in the token file, with its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("{file}: {message}")]
    Read { file: String, message: String },
    #[error("{file}:{line}: {message}")]
    Syntax {
        file: String,
        line: usize,
        message: String,
    },
}

/// The tokens the API accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    tokens: Vec<Token>,
}

/// SHA-256 of a token, as the hex a token file holds.
pub fn hash_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A token file line for `token` (what `vnfsync demo` writes).
pub fn entry_line(name: &str, scopes: &[Scope], tenant: Option<&str>, token: &str) -> String {
    let scopes: Vec<&str> = scopes
        .iter()
        .map(|s| match s {
            Scope::Read => "read",
            Scope::Write => "write",
        })
        .collect();
    format!(
        "{name} {} {} {}",
        scopes.join(","),
        tenant.unwrap_or("-"),
        hash_hex(token)
    )
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Tokens {
    pub fn load(file: &Path) -> Result<Tokens, AuthError> {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|e| AuthError::Read {
            file: name.clone(),
            message: e.to_string(),
        })?;
        Tokens::parse(&name, &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<Tokens, AuthError> {
        let mut tokens = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: String| AuthError::Syntax {
                file: file.to_string(),
                line: i + 1,
                message,
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            let [name, scopes, tenant, hash] = words[..] else {
                return Err(err(format!(
                    "expected `NAME SCOPES TENANT SHA256`, found {} words",
                    words.len()
                )));
            };
            let (mut read, mut write) = (false, false);
            for s in scopes.split(',') {
                match s {
                    "read" => read = true,
                    "write" => write = true,
                    other => {
                        return Err(err(format!(
                            "unknown scope `{other}` (expected read or write)"
                        )));
                    }
                }
            }
            let hash = unhex(&hash.to_ascii_lowercase())
                .ok_or_else(|| err("the hash must be 64 hex digits (SHA-256)".into()))?;
            tokens.push(Token {
                name: name.to_string(),
                read,
                write,
                tenant: (tenant != "-").then(|| tenant.to_string()),
                hash,
            });
        }
        Ok(Tokens { tokens })
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The entry for a presented token. Every entry is compared, in constant time each.
    pub fn find(&self, presented: &str) -> Option<&Token> {
        let h: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for t in &self.tokens {
            let diff = t
                .hash
                .iter()
                .zip(h.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff == 0 && found.is_none() {
                found = Some(t);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_find() {
        let text = format!(
            "# comment\n{}\n{}\n",
            entry_line("ops", &[Scope::Read, Scope::Write], None, "secret-a"),
            entry_line("team", &[Scope::Read], Some("branches"), "secret-b")
        );
        let t = Tokens::parse("tokens", &text).expect("parse");
        let a = t.find("secret-a").expect("a");
        assert!(a.allows(Scope::Write) && a.tenant.is_none());
        let b = t.find("secret-b").expect("b");
        assert!(b.allows(Scope::Read) && !b.allows(Scope::Write));
        assert_eq!(b.tenant.as_deref(), Some("branches"));
        assert!(t.find("secret-c").is_none());
        assert!(!text.contains("secret-a"), "only hashes are stored");
    }

    #[test]
    fn errors_name_the_line() {
        let e = Tokens::parse("tokens", "\nops read,admin - 00\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "tokens:2: unknown scope `admin` (expected read or write)"
        );
        let e = Tokens::parse("tokens", "ops read - 00\n").unwrap_err();
        assert!(e.to_string().starts_with("tokens:1: the hash"));
    }
}
