//! Bad inputs with the exact error text and position VyOS would give (reference §1.1, §1.2),
//! and the command-list errors.

use vnfsync::vyos::{ConfigTree, Error};

/// `(input, message, line, column)`.
const BOOT_ERRORS: &[(&str, &str, usize, usize)] = &[
    // A one-line block: the leaf `c d` must end its line.
    (
        "b { c d }",
        "Syntax error on line 1, character 9: Invalid syntax.",
        1,
        9,
    ),
    // A comment after a value on the same line (reported at its `*/`).
    (
        "a {\n    b \"v\" /* x */\n}\n",
        "Syntax error on line 2, character 16: Invalid syntax.",
        2,
        16,
    ),
    // Two values.
    (
        "name v1 v2\n",
        "Syntax error on line 1, character 9: Invalid syntax.",
        1,
        9,
    ),
    // A tag node with two tag values.
    (
        "ethernet eth0 eth1 {\n}\n",
        "Syntax error on line 1, character 15: Invalid syntax.",
        1,
        15,
    ),
    // A comment before `}`.
    (
        "a {\n    b\n    /* c */\n}\n",
        "Syntax error on line 4, character 1: Invalid syntax.",
        4,
        1,
    ),
    // A trailing comment at the end of the file.
    (
        "a {\n}\n/* end */\n",
        "Syntax error on line 4, character 1: Invalid syntax.",
        4,
        1,
    ),
    // A stray closing brace.
    (
        "a {\n}\n}\n",
        "Syntax error on line 3, character 1: Invalid syntax.",
        3,
        1,
    ),
    // A missing closing brace.
    (
        "a {\n    b {\n    }\n",
        "Syntax error on line 4, character 1: Invalid syntax.",
        4,
        1,
    ),
    // A quoted node name.
    (
        "\"a\" {\n}\n",
        "Syntax error on line 1, character 3: Invalid syntax.",
        1,
        3,
    ),
    // Newlines inside /* */ count (VyOS's lexer skips them and says line 3).
    (
        "/* one\ntwo\nthree */\na {\n    b c d\n}\n",
        "Syntax error on line 5, character 9: Invalid syntax.",
        5,
        9,
    ),
    // An unknown escape in a string that does not end its line.
    ("ethernet \"e\\q\" {\n}\n", "lexing: empty token", 1, 12),
    // An unclosed comment.
    ("a {\n}\n/* never closed\n", "lexing: empty token", 4, 1),
    (
        "a \"open\n",
        "Syntax error on line 2, character 1: Quoted string is missing the closing double quote",
        2,
        1,
    ),
    (
        "a 'open\n",
        "Syntax error on line 2, character 1: Quoted string is missing the closing single quote",
        2,
        1,
    ),
    // The same tag instance twice under one parent.
    (
        "a {\n    t x {\n    }\n    t x {\n    }\n}\n",
        "Node \"a t\" has two children named \"x\"",
        6,
        1,
    ),
    (
        "interfaces {\n    ethernet eth0 {\n        address dhcp\n    }\n    ethernet eth0 {\n        mtu 1500\n    }\n}\n",
        "Node \"interfaces ethernet\" has two children named \"eth0\"",
        8,
        1,
    ),
    // Inside a tag instance the message names the instance too.
    (
        "r x {\n    t y {\n    }\n    t y {\n    }\n}\n",
        "Node \"r x t\" has two children named \"y\"",
        6,
        1,
    ),
    // Repeated plain nodes merge one level only.
    (
        "a {\n    b 1\n}\na {\n    b 2\n}\n",
        "Node \"a\" has two children named \"b\"",
        7,
        1,
    ),
    // A 1.2 footer that is not the full three lines is left in, and fails as in VyOS.
    (
        "a {\n}\n/* Warning: Do not remove the following line. */\n/* Release version: 1.2.6 */\n",
        "Syntax error on line 5, character 1: Invalid syntax.",
        5,
        1,
    ),
];

#[test]
fn boot_errors_read_like_vyos() {
    for &(input, message, line, column) in BOOT_ERRORS {
        match ConfigTree::parse_boot(input) {
            Ok(t) => panic!("{input:?} parsed: {t:?}"),
            Err(e) => {
                assert_eq!(e.to_string(), message, "{input:?}");
                assert_eq!(e.position(), Some((line, column)), "{input:?}");
            }
        }
    }
}

const COMMAND_ERRORS: &[(&str, &str, usize, usize)] = &[
    (
        "set a b 'x'\nshow a\n",
        "unknown command \"show\": expected set, delete or comment",
        2,
        1,
    ),
    ("set a b 'x", "unterminated single quote", 1, 9),
    ("set a b \"x", "unterminated double quote", 1, 9),
    ("comment a b", "comment needs its text in quotes", 1, 11),
    ("set 'v'", "missing configuration path", 1, 5),
    (
        "set a \"it's\"",
        "Cannot use the single quote (') character in a value string",
        1,
        7,
    ),
    (
        "set a 'say \"x\"'",
        "Cannot use the double quote (\") character in a value string",
        1,
        7,
    ),
    (
        "set a b\ncomment x y 'c'\n",
        "Path doesn't exist: [x y]",
        2,
        1,
    ),
];

#[test]
fn command_errors_have_positions() {
    for &(input, message, line, column) in COMMAND_ERRORS {
        match ConfigTree::parse_commands(input) {
            Ok(t) => panic!("{input:?} parsed: {t:?}"),
            Err(e) => {
                assert!(matches!(e, Error::Command { .. }), "{e:?}");
                assert_eq!(e.to_string(), message, "{input:?}");
                assert_eq!(e.position(), Some((line, column)), "{input:?}");
            }
        }
    }
}

#[test]
fn error_messages_snapshot() {
    let mut all = String::new();
    for &(input, ..) in BOOT_ERRORS {
        if let Err(e) = ConfigTree::parse_boot(input) {
            let (l, c) = e.position().unwrap_or_default();
            all.push_str(&format!("{input:?}\n  => {l}:{c}: {e}\n"));
        }
    }
    insta::assert_snapshot!("boot_error_messages", all);
}
