//! The syntax of secret name templates, such as `"{STAGE}/lambda/{APP:-jay}"`.
//!
//! A placeholder is `{VAR}` or `{VAR:-default}` (the default is used when `VAR` is unset or
//! empty); `{{` and `}}` stand for literal braces. [`pieces`] is the one scanner: the derive
//! runs it at compile time to reject malformed templates with its own messages, the runtime
//! runs it to fill templates in and reports its own errors.

/// One piece of a template, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Text taken as it is: a run without braces, or the one brace that `{{` or `}}` stands for.
    Literal(&'a str),
    /// `{VAR}` or `{VAR:-default}`.
    Placeholder {
        /// The environment variable's name: `[A-Za-z_][A-Za-z0-9_]*`.
        var: &'a str,
        /// The text after `:-` (possibly empty), used when the variable is unset or empty.
        default: Option<&'a str>,
    },
}

/// Why a template is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyntaxError<'a> {
    /// A `}` that closes no `{` and is not doubled.
    Unopened,
    /// A `{` that is never closed and is not doubled.
    Unclosed,
    /// Braces around something other than `VAR` or `VAR:-default`: the text between them.
    NotAPlaceholder(&'a str),
}

/// The pieces of `template`, in order. The first error ends them.
pub(crate) fn pieces(template: &str) -> Pieces<'_> {
    Pieces { rest: template }
}

/// The iterator of [`pieces`].
pub(crate) struct Pieces<'a> {
    /// What is left to scan; empty after the end or an error.
    rest: &'a str,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Result<Piece<'a>, SyntaxError<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest;
        if rest.is_empty() {
            return None;
        }
        let Some(pos) = rest.find(['{', '}']) else {
            self.rest = "";
            return Some(Ok(Piece::Literal(rest)));
        };
        if pos > 0 {
            self.rest = &rest[pos..];
            return Some(Ok(Piece::Literal(&rest[..pos])));
        }
        // Both braces are one byte long.
        let (brace, after) = rest.split_at(1);
        if let Some(after_pair) = after.strip_prefix(brace) {
            self.rest = after_pair;
            return Some(Ok(Piece::Literal(brace)));
        }
        // Nothing follows an error.
        self.rest = "";
        if brace == "}" {
            return Some(Err(SyntaxError::Unopened));
        }
        let Some(end) = after.find('}') else {
            return Some(Err(SyntaxError::Unclosed));
        };
        let inside = &after[..end];
        let (var, default) = match inside.split_once(":-") {
            Some((var, default)) => (var, Some(default)),
            None => (inside, None),
        };
        if !is_var_name(var) {
            return Some(Err(SyntaxError::NotAPlaceholder(inside)));
        }
        self.rest = &after[end + 1..];
        Some(Ok(Piece::Placeholder { var, default }))
    }
}

/// Whether `name` can be an environment variable's name (`[A-Za-z_][A-Za-z0-9_]*`).
pub(crate) fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::{Piece, SyntaxError, is_var_name, pieces};

    fn scan(template: &str) -> Vec<Result<Piece<'_>, SyntaxError<'_>>> {
        pieces(template).collect()
    }

    #[test]
    fn literals_placeholders_and_escaped_braces() {
        use Piece::{Literal, Placeholder};
        assert_eq!(scan(""), []);
        assert_eq!(scan("plain/name"), [Ok(Literal("plain/name"))]);
        assert_eq!(
            scan("{STAGE}/lambda/{APP:-jay}"),
            [
                Ok(Placeholder {
                    var: "STAGE",
                    default: None
                }),
                Ok(Literal("/lambda/")),
                Ok(Placeholder {
                    var: "APP",
                    default: Some("jay")
                }),
            ]
        );
        assert_eq!(
            scan("a{{b}}c{X:-}"),
            [
                Ok(Literal("a")),
                Ok(Literal("{")),
                Ok(Literal("b")),
                Ok(Literal("}")),
                Ok(Literal("c")),
                Ok(Placeholder {
                    var: "X",
                    default: Some("")
                }),
            ]
        );
        // A default runs to the first `}`, and may hold `{` or `:-`.
        assert_eq!(
            scan("{X:-a{b:-c}"),
            [Ok(Placeholder {
                var: "X",
                default: Some("a{b:-c")
            })]
        );
    }

    #[test]
    fn the_first_error_ends_the_pieces() {
        assert_eq!(
            scan("a/{STAGE/x}"),
            [
                Ok(Piece::Literal("a/")),
                Err(SyntaxError::NotAPlaceholder("STAGE/x"))
            ]
        );
        assert_eq!(
            scan("x}{y"),
            [Ok(Piece::Literal("x")), Err(SyntaxError::Unopened)]
        );
        assert_eq!(scan("{STAGE/x"), [Err(SyntaxError::Unclosed)]);
        assert_eq!(scan("{X}}"), {
            let x = Piece::Placeholder {
                var: "X",
                default: None,
            };
            [Ok(x), Err(SyntaxError::Unopened)]
        });
        for (bad, inside) in [
            ("{}", ""),
            ("{1A}", "1A"),
            ("{A B}", "A B"),
            ("{:-x}", ":-x"),
        ] {
            assert_eq!(
                scan(bad),
                [Err(SyntaxError::NotAPlaceholder(inside))],
                "{bad}"
            );
        }
    }

    #[test]
    fn variable_names() {
        for good in ["A", "_", "STAGE_2", "a1"] {
            assert!(is_var_name(good), "{good}");
        }
        for bad in ["", "1A", "A-B", "A B", "É"] {
            assert!(!is_var_name(bad), "{bad}");
        }
    }
}
