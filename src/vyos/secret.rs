//! Secrets and value text: which leaf values are secrets, what a hidden one prints as, and the
//! escaping of a value inside quotes. The one place every renderer and diff view asks, so that
//! `--hide-secrets` means the same thing in config.boot, `commands`, JSON, `compare`,
//! `compare commands` and the unified diff.
//!
//! Owns the masking rule ([`is_secret`], [`MASK`], [`shown`]) and the value escaping that
//! `commands` and `render` share ([`escape_string`], [`escape_value`], [`command_value`]). It
//! must not walk trees or decide layouts: renderers call [`shown`] for every value they print.
//!
//! # The secret list
//!
//! VyOS's own rule (reference §2.1, plain `show configuration`): the value of a leaf whose name
//! ends in `password`, `passphrase`, `pre-shared-secret` or `key`. We hide more, where a value is
//! plainly a secret whatever VyOS prints: a leaf whose name ends in `secret` (RADIUS and TACACS+
//! `secret`, IPsec `authentication psk <name> secret`, OpenVPN `shared-secret`, any
//! `pre-shared-secret`), or is exactly `psk`. Covered through `key` and `password`: IPsec and
//! WireGuard `private-key` / `preshared-key`, RADIUS / TACACS+ server `key`, OSPF `md5-key` and
//! `plaintext-password`, BGP neighbor `password`, VRRP and IS-IS `password`, API `key`, PPPoE
//! and DDNS `password`, login `encrypted-password`. Comments, node names and tag values are
//! never hidden.

use std::borrow::Cow;
use std::fmt::Write as _;

/// What a hidden secret prints as (VyOS's own mask).
pub const MASK: &str = "****************";

/// Leaf-name endings whose values are secrets: VyOS's four, then ours.
const SECRET_SUFFIXES: [&str; 5] = [
    "password",
    "passphrase",
    "pre-shared-secret",
    "key",
    "secret",
];
/// Leaf names whose values are secrets, matched whole.
const SECRET_NAMES: [&str; 1] = ["psk"];

/// Whether the value of a leaf with this name is a secret (see the module docs for the list).
pub fn is_secret(leaf_name: &str) -> bool {
    SECRET_SUFFIXES.iter().any(|s| leaf_name.ends_with(s)) || SECRET_NAMES.contains(&leaf_name)
}

/// Whether a renderer prints secret values or hides them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Secrets {
    /// Print values as they are (VyOS's `show configuration commands`, config.boot).
    #[default]
    Show,
    /// Print [`MASK`] for the value of every leaf [`is_secret`] names.
    Hide,
}

impl Secrets {
    /// `Hide` when `hide` is true.
    pub fn hide_if(hide: bool) -> Secrets {
        if hide { Secrets::Hide } else { Secrets::Show }
    }
}

/// Whether the values of the leaf `leaf_name` print as [`MASK`].
pub fn hidden(leaf_name: &str, secrets: Secrets) -> bool {
    secrets == Secrets::Hide && is_secret(leaf_name)
}

/// The text to print for `value`, a value of the leaf `leaf_name`: [`MASK`] when secrets are
/// hidden and the leaf is a secret, else the value itself. Every renderer and diff view prints
/// values through this function.
pub fn shown<'v>(leaf_name: &str, value: &'v str, secrets: Secrets) -> &'v str {
    if hidden(leaf_name, secrets) {
        MASK
    } else {
        value
    }
}

/// vyos1x-config `Util.escape_string`: `"` and `\` get a backslash; newline, tab, CR and
/// backspace become `\n`, `\t`, `\r`, `\b`; other control bytes `\DDD`; UTF-8 passes.
pub fn escape_string(s: &str) -> String {
    if !s
        .bytes()
        .any(|b| b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f)
    {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\{:03}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A value as VyOS prints it between quotes: [`escape_string`], then `\\` back to `\`.
pub fn escape_value(s: &str) -> String {
    let e = escape_string(s);
    if e.contains("\\\\") {
        e.replace("\\\\", "\\")
    } else {
        e
    }
}

/// A value as it goes between the single quotes of a command line: [`escape_value`], and a
/// single quote as `'\''` so that the line stays one shell word.
pub fn command_value(v: &str) -> Cow<'_, str> {
    if v.bytes()
        .any(|b| b == b'"' || b == b'\\' || b == b'\'' || b < 0x20 || b == 0x7f)
    {
        Cow::Owned(escape_value(v).replace('\'', "'\\''"))
    } else {
        Cow::Borrowed(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, secret: bool) {
        assert_eq!(is_secret(name), secret, "{name}");
    }

    #[test]
    fn secret_list() {
        for name in [
            "plaintext-password",
            "encrypted-password",
            "passphrase",
            "pre-shared-secret",
            "key",
            "private-key",
            "preshared-key",
            "md5-key",
            "secret",
            "shared-secret",
            "psk",
            "password",
        ] {
            check(name, true);
        }
        for name in ["address", "host-name", "description", "psk-name", "keys"] {
            check(name, false);
        }
    }

    #[test]
    fn shown_hides_only_secrets_when_asked() {
        assert_eq!(shown("key", "abc", Secrets::Hide), MASK);
        assert_eq!(shown("key", "abc", Secrets::Show), "abc");
        assert_eq!(shown("address", "abc", Secrets::Hide), "abc");
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_string("a\"b\\c\td\u{1}é"), "a\\\"b\\\\c\\td\\001é");
        assert_eq!(escape_value("C:\\temp"), "C:\\temp");
        assert_eq!(escape_value("x\\\\y"), "x\\\\y");
        assert_eq!(command_value("it's\t"), "it'\\''s\\t");
        assert_eq!(command_value("plain"), "plain");
    }
}
