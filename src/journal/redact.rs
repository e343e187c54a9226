//! Redaction of everything free-form the journal stores: summaries of requests and responses,
//! planned commands (which should arrive masked already), error texts, steps.
//!
//! A value is hidden when it follows a sensitive name: a VyOS secret leaf (`…password`,
//! `…key`, `…passphrase`, `…pre-shared-secret`, as `show configuration` hides them), or a
//! word such as `token`, `secret`, `authorization`. JSON is redacted structurally (object
//! members by name, path arrays by the element after a secret name); other text word by word
//! (`name value`, `name=value`, `name: value`, `&`-separated forms). It errs towards hiding.

use serde_json::Value;

use crate::vyos::secret::{MASK, is_secret};

/// Whether a field or leaf with this name holds a secret.
pub fn sensitive(name: &str) -> bool {
    let n: String = name
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_ascii_lowercase();
    if n.is_empty() {
        return false;
    }
    is_secret(&n)
        || n.ends_with("_key")
        || n.ends_with("-key")
        || [
            "password",
            "passwd",
            "secret",
            "token",
            "passphrase",
            "apikey",
            "authorization",
            "bearer",
            "credential",
            "cookie",
        ]
        .iter()
        .any(|w| n.contains(w))
}

/// The text with every secret value replaced by the mask.
pub fn redact(text: &str) -> String {
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(mut v) = serde_json::from_str::<Value>(text)
    {
        redact_json(&mut v);
        return v.to_string();
    }
    redact_words(text)
}

/// Redact a JSON value in place.
pub fn redact_json(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if sensitive(k) && !val.is_object() && !val.is_array() {
                    *val = Value::String(MASK.to_owned());
                } else {
                    redact_json(val);
                }
            }
        }
        Value::Array(items) => {
            let mut hide_next = false;
            for item in items.iter_mut() {
                if hide_next && !item.is_object() && !item.is_array() {
                    *item = Value::String(MASK.to_owned());
                    hide_next = false;
                    continue;
                }
                hide_next = item.as_str().is_some_and(sensitive);
                redact_json(item);
            }
        }
        Value::String(s) => {
            let r = redact(s);
            if r != *s {
                *s = r;
            }
        }
        _ => {}
    }
}

/// Word-by-word redaction of plain text, keeping its separators.
fn redact_words(text: &str) -> String {
    let is_sep = |c: char| c.is_whitespace() || c == ',' || c == '&' || c == ';';
    let mut out = String::with_capacity(text.len());
    // How many following words to hide (2 after `Authorization:` for `Bearer xyz`).
    let mut hide = 0u8;
    let mut rest = text;
    while !rest.is_empty() {
        let sep_len = rest.find(|c: char| !is_sep(c)).unwrap_or(rest.len());
        out.push_str(&rest[..sep_len]);
        rest = &rest[sep_len..];
        if rest.is_empty() {
            break;
        }
        let word_len = rest.find(is_sep).unwrap_or(rest.len());
        let word = &rest[..word_len];
        rest = &rest[word_len..];
        if hide > 0 {
            let scheme = matches!(
                word.trim_matches(|c: char| !c.is_ascii_alphanumeric())
                    .to_ascii_lowercase()
                    .as_str(),
                "bearer" | "basic" | "token"
            );
            out.push_str(if scheme { word } else { MASK });
            hide = if scheme { 1 } else { hide - 1 };
            continue;
        }
        // `name=value` / `name:value` (also `"name":"value"`).
        if let Some(pos) = word.find(['=', ':'])
            && pos + 1 < word.len()
            && sensitive(&word[..pos])
        {
            out.push_str(&word[..=pos]);
            out.push_str(MASK);
            continue;
        }
        out.push_str(word);
        if sensitive(word) {
            hide = 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(redact(input), expected, "input: {input}");
    }

    #[test]
    fn redacts_commands_forms_headers_and_json() {
        let m = MASK;
        check(
            "set system login user ops authentication plaintext-password 'hunter2'",
            &format!("set system login user ops authentication plaintext-password {m}"),
        );
        check(
            "set interfaces ethernet eth0 address 192.0.2.1/24",
            "set interfaces ethernet eth0 address 192.0.2.1/24",
        );
        check(
            "POST /configure key=S3CR3T&data=x",
            &format!("POST /configure key={m}&data=x"),
        );
        check(
            "Authorization: Bearer abc.def",
            &format!("Authorization: Bearer {m}"),
        );
        check("token: abc", &format!("token: {m}"));
        check(
            r#"{"key":"S3CR3T","commands":[{"op":"set","path":["system","login","user","x","authentication","plaintext-password","hunter2"]}]}"#,
            &format!(
                r#"{{"commands":[{{"op":"set","path":["system","login","user","x","authentication","plaintext-password","{m}"]}}],"key":"{m}"}}"#
            ),
        );
        check(
            r#"{"data": "set service snmp community-secret abc"}"#,
            &format!(r#"{{"data":"set service snmp community-secret {m}"}}"#),
        );
        check("nothing to hide: 42", "nothing to hide: 42");
    }
}
