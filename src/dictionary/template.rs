//! The template engine of the dictionaries: the only user of minijinja.
//!
//! Owns: compiling a dictionary's templates with the rules that make them safe to run on
//! untrusted data — strict undefined (a misspelt variable is an error, never an empty string),
//! a fuel limit per render (a runaway loop stops), no auto-escaping (the output is VyOS
//! commands, not HTML) — and the `q` filter, which quotes a value exactly as
//! [`crate::vyos::Command`] prints one (`'value'`) and refuses a value VyOS cannot hold.
//! Must not build device commands from the output itself: the text goes through the one
//! VyOS command parser (see `crate::render`).

use std::collections::BTreeSet;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde::Serialize;

/// Instructions one render may run before it is stopped.
pub const FUEL: u64 = 200_000;

/// A template that failed to compile or to render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template `{template}`{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct TemplateError {
    /// The template's name (the resource kind).
    pub template: String,
    /// The line inside the template, 1-based, when the engine knows it.
    pub line: Option<usize>,
    pub message: String,
}

/// A set of compiled templates.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

/// The `q` filter: a value quoted as `vyos::Command` prints it.
fn quote(v: Value) -> Result<String, minijinja::Error> {
    if v.is_undefined() || v.is_none() {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "cannot quote an absent value (test it with `if` first)",
        ));
    }
    let text = match v.as_str() {
        Some(s) => s.to_owned(),
        None => v.to_string(),
    };
    crate::vyos::validate_value(&text)
        .map_err(|m| minijinja::Error::new(ErrorKind::InvalidOperation, m))?;
    Ok(format!("'{}'", crate::vyos::secret::escape_value(&text)))
}

/// The engine's error as ours, with the template and line the engine names (the template
/// that failed may not be the one that was rendered, once one includes another).
fn convert(template: &str, e: &minijinja::Error) -> TemplateError {
    let message = match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    };
    TemplateError {
        template: e.name().unwrap_or(template).to_owned(),
        line: e.line(),
        message,
    }
}

/// The 1-based line of `source` where the dotted variable `var` (`rule.source.port`, as
/// [`Templates::variables`] names it) is first written, when it is written out whole: the
/// engine reports unknown variables without a place.
pub fn variable_line(source: &str, var: &str) -> Option<usize> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(i) = source[from..].find(var) {
        let at = from + i;
        let end = at + var.len();
        let before = source[..at].chars().next_back();
        let after = source[end..].chars().next();
        if !before.is_some_and(|c| ident(c) || c == '.') && !after.is_some_and(ident) {
            return Some(source[..at].matches('\n').count() + 1);
        }
        from = end;
    }
    None
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

impl Templates {
    pub fn new() -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_fuel(Some(FUEL));
        env.set_keep_trailing_newline(true);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_filter("q", quote);
        Templates { env }
    }

    /// Compile `source` as template `name`.
    pub fn add(&mut self, name: &str, source: &str) -> Result<(), TemplateError> {
        self.env
            .add_template_owned(name.to_owned(), source.to_owned())
            .map_err(|e| convert(name, &e))
    }

    /// Render template `name` with `ctx`.
    pub fn render<S: Serialize>(&self, name: &str, ctx: S) -> Result<String, TemplateError> {
        let t = self.env.get_template(name).map_err(|e| convert(name, &e))?;
        t.render(ctx).map_err(|e| convert(name, &e))
    }

    /// The variables template `name` reads from its context, as dotted attribute paths
    /// (`rule.source.port`).
    pub fn variables(&self, name: &str) -> BTreeSet<String> {
        match self.env.get_template(name) {
            Ok(t) => t.undeclared_variables(true).into_iter().collect(),
            Err(_) => BTreeSet::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, ctx: serde_json::Value) -> Result<String, TemplateError> {
        let mut t = Templates::new();
        t.add("t", source)?;
        t.render("t", ctx)
    }

    #[test]
    fn quotes_like_a_command_and_refuses_quotes() {
        assert_eq!(
            render("set a {{ v | q }}", serde_json::json!({"v": "x y"})),
            Ok("set a 'x y'".into())
        );
        assert_eq!(
            render("set a {{ v | q }}", serde_json::json!({"v": 22})),
            Ok("set a '22'".into())
        );
        let e = render("set a {{ v | q }}", serde_json::json!({"v": "it's"})).unwrap_err();
        assert!(e.message.contains("single quote"), "{e}");
        let e = render("set a {{ v | q }}", serde_json::json!({"v": null})).unwrap_err();
        assert!(e.message.contains("absent value"), "{e}");
    }

    #[test]
    fn variables_are_found_on_their_line() {
        let src = "{% set base = rule.number %}\nset {{ base }} {{ rule.numbers }}\n{{ rule.verdict | q }}";
        assert_eq!(variable_line(src, "rule.verdict"), Some(3));
        assert_eq!(variable_line(src, "rule.numbers"), Some(2));
        assert_eq!(variable_line(src, "rule.number"), Some(1));
        assert_eq!(variable_line(src, "number"), None);
        assert_eq!(variable_line(src, "rule.nope"), None);
    }

    /// Issue 11: an unknown variable met while rendering is reported at the line that uses
    /// it, not at the template's first line.
    #[test]
    fn issue_11_undefined_at_render_names_its_line() {
        let src = "set a 'x'\n{% if v %}\nset b {{ rule.verdict | q }}\n{% endif %}";
        let e = render(
            src,
            serde_json::json!({"v": true, "rule": {"action": "accept"}}),
        )
        .unwrap_err();
        assert_eq!((e.template.as_str(), e.line), ("t", Some(3)), "{e}");
        let src = "set a 'x'\n\nset b {{ nope }}";
        let e = render(src, serde_json::json!({})).unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("undefined"), "{e}");
    }

    #[test]
    fn strict_undefined_fuel_and_no_escaping() {
        let e = render("\n{{ nope.x }}", serde_json::json!({})).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("undefined"), "{e}");
        let e = render(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            serde_json::json!({}),
        )
        .unwrap_err();
        assert!(e.message.contains("fuel"), "{e}");
        assert_eq!(
            render("{{ v }}", serde_json::json!({"v": "<a&b>"})),
            Ok("<a&b>".into())
        );
        let e = render("{% if %}", serde_json::json!({})).unwrap_err();
        assert!(e.message.contains("syntax error"), "{e}");
    }
}
