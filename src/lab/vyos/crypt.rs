//! SHA-512 crypt (`$6$salt$hash`, Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512"),
//! the scheme VyOS stores in `system login user X authentication encrypted-password` after
//! hashing a `plaintext-password` at commit.
//!
//! Owns hashing a password with a fresh salt and checking a password against a stored hash.
//! Must not log or keep passwords.

use sha2::{Digest, Sha512};

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ROUNDS_DEFAULT: usize = 5000;

fn repeated(digest: &[u8], len: usize) -> Vec<u8> {
    digest.iter().copied().cycle().take(len).collect()
}

fn sha512_crypt_raw(password: &[u8], salt: &[u8], rounds: usize) -> [u8; 64] {
    let b: [u8; 64] = Sha512::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize()
        .into();
    let mut a = Sha512::new().chain_update(password).chain_update(salt);
    let mut n = password.len();
    while n > 64 {
        a.update(b);
        n -= 64;
    }
    a.update(&b[..n]);
    let mut n = password.len();
    while n > 0 {
        if n & 1 == 1 {
            a.update(b);
        } else {
            a.update(password);
        }
        n >>= 1;
    }
    let mut a: [u8; 64] = a.finalize().into();
    let mut dp = Sha512::new();
    for _ in 0..password.len() {
        dp.update(password);
    }
    let p = repeated(&dp.finalize(), password.len());
    let mut ds = Sha512::new();
    for _ in 0..16 + usize::from(a[0]) {
        ds.update(salt);
    }
    let s = repeated(&ds.finalize(), salt.len());
    for i in 0..rounds {
        let mut c = Sha512::new();
        if i % 2 == 1 {
            c.update(&p);
        } else {
            c.update(a);
        }
        if i % 3 != 0 {
            c.update(&s);
        }
        if i % 7 != 0 {
            c.update(&p);
        }
        if i % 2 == 1 {
            c.update(a);
        } else {
            c.update(&p);
        }
        a = c.finalize().into();
    }
    a
}

fn encode(a: &[u8; 64]) -> String {
    const ORDER: [(usize, usize, usize); 21] = [
        (0, 21, 42),
        (22, 43, 1),
        (44, 2, 23),
        (3, 24, 45),
        (25, 46, 4),
        (47, 5, 26),
        (6, 27, 48),
        (28, 49, 7),
        (50, 8, 29),
        (9, 30, 51),
        (31, 52, 10),
        (53, 11, 32),
        (12, 33, 54),
        (34, 55, 13),
        (56, 14, 35),
        (15, 36, 57),
        (37, 58, 16),
        (59, 17, 38),
        (18, 39, 60),
        (40, 61, 19),
        (62, 20, 41),
    ];
    let mut out = String::with_capacity(86);
    let mut push = |w: u32, n: usize| {
        let mut w = w;
        for _ in 0..n {
            out.push(char::from(ITOA64[(w & 0x3f) as usize]));
            w >>= 6;
        }
    };
    for (x, y, z) in ORDER {
        push(
            (u32::from(a[x]) << 16) | (u32::from(a[y]) << 8) | u32::from(a[z]),
            4,
        );
    }
    push(u32::from(a[63]), 2);
    out
}

/// `$6$<salt>$<hash>` of `password` with the default 5000 rounds; `salt` is cut to 16
/// characters as crypt(3) does.
pub fn hash_with_salt(password: &str, salt: &str) -> String {
    let salt: String = salt.chars().take(16).collect();
    let raw = sha512_crypt_raw(password.as_bytes(), salt.as_bytes(), ROUNDS_DEFAULT);
    format!("$6${salt}${}", encode(&raw))
}

/// `$6$...` of `password` with a fresh random 16-character salt.
pub fn hash(password: &str) -> String {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    // The system RNG failing leaves a fixed salt: the hash still verifies.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    let salt: String = bytes
        .iter()
        .map(|b| char::from(ITOA64[usize::from(b & 0x3f)]))
        .collect();
    hash_with_salt(password, &salt)
}

/// Whether `password` matches a stored `$6$[rounds=N$]salt$hash`; other schemes never match.
pub fn verify(password: &str, stored: &str) -> bool {
    let Some(rest) = stored.strip_prefix("$6$") else {
        return false;
    };
    let (rounds, rest) = match rest.strip_prefix("rounds=") {
        Some(r) => match r.split_once('$') {
            Some((n, rest)) => match n.parse::<usize>() {
                Ok(n) => (n.clamp(1000, 999_999_999), rest),
                Err(_) => return false,
            },
            None => return false,
        },
        None => (ROUNDS_DEFAULT, rest),
    };
    let Some((salt, hash)) = rest.split_once('$') else {
        return false;
    };
    let salt: String = salt.chars().take(16).collect();
    let raw = sha512_crypt_raw(password.as_bytes(), salt.as_bytes(), rounds);
    let computed = encode(&raw);
    // Compare every byte whatever the first difference.
    computed.len() == hash.len()
        && computed
            .bytes()
            .zip(hash.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drepper_test_vectors() {
        assert_eq!(
            hash_with_salt("Hello world!", "saltstring"),
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
        assert!(verify(
            "Hello world!",
            "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."
        ));
        let h = hash("vyos");
        assert!(h.starts_with("$6$") && verify("vyos", &h) && !verify("vyoS", &h));
        assert!(!verify("vyos", "$1$abc$def"));
    }
}
