//! `rename_all` rules, with serde's names and meanings, applied to snake_case field names.

/// A key naming convention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

impl RenameRule {
    /// The names `rename_all` accepts, as serde spells them.
    pub(crate) const NAMES: &'static [&'static str] = &[
        "lowercase",
        "UPPERCASE",
        "PascalCase",
        "camelCase",
        "snake_case",
        "SCREAMING_SNAKE_CASE",
        "kebab-case",
        "SCREAMING-KEBAB-CASE",
    ];

    pub(crate) fn from_str(name: &str) -> Option<Self> {
        Some(match name {
            "lowercase" => Self::Lower,
            "UPPERCASE" => Self::Upper,
            "PascalCase" => Self::Pascal,
            "camelCase" => Self::Camel,
            "snake_case" => Self::Snake,
            "SCREAMING_SNAKE_CASE" => Self::ScreamingSnake,
            "kebab-case" => Self::Kebab,
            "SCREAMING-KEBAB-CASE" => Self::ScreamingKebab,
            _ => return None,
        })
    }

    /// The key for a field named `field` (snake_case, as Rust fields are).
    pub(crate) fn apply(self, field: &str) -> String {
        match self {
            Self::Lower | Self::Snake => field.to_owned(),
            Self::Upper | Self::ScreamingSnake => field.to_ascii_uppercase(),
            Self::Kebab => field.replace('_', "-"),
            Self::ScreamingKebab => field.to_ascii_uppercase().replace('_', "-"),
            Self::Pascal => pascal(field),
            Self::Camel => {
                let pascal = pascal(field);
                let mut chars = pascal.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            }
        }
    }
}

fn pascal(field: &str) -> String {
    field
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::RenameRule;

    #[test]
    fn matches_serde() {
        let cases = [
            ("lowercase", "db_host"),
            ("UPPERCASE", "DB_HOST"),
            ("PascalCase", "DbHost"),
            ("camelCase", "dbHost"),
            ("snake_case", "db_host"),
            ("SCREAMING_SNAKE_CASE", "DB_HOST"),
            ("kebab-case", "db-host"),
            ("SCREAMING-KEBAB-CASE", "DB-HOST"),
        ];
        for (name, expected) in cases {
            let rule = RenameRule::from_str(name).expect(name);
            assert_eq!(rule.apply("db_host"), expected, "{name}");
        }
        assert_eq!(RenameRule::from_str("Camel"), None);
    }
}
