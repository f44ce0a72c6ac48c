//! Which fields of the analyzer roots (`shell`, `sql`) a bundle's expressions read, so that
//! deciding an action builds only those (explanations build every field). Pure: derived from the
//! fact paths the compiled conditions and rewrites read.

/// The fields of one analyzer root that are built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fields {
    /// Every field (some expression reads the root as a whole).
    All,
    /// Only these fields.
    Only(Vec<String>),
}

impl Default for Fields {
    fn default() -> Self {
        Fields::Only(Vec::new())
    }
}

impl Fields {
    /// Whether `field` is built.
    pub(crate) fn wants(&self, field: &str) -> bool {
        match self {
            Fields::All => true,
            Fields::Only(fields) => fields.iter().any(|f| f == field),
        }
    }

    fn add(&mut self, field: Option<&str>) {
        match (field, &mut *self) {
            (_, Fields::All) => {}
            (None, _) => *self = Fields::All,
            (Some(f), Fields::Only(fields)) => {
                if !fields.iter().any(|known| known == f) {
                    fields.push(f.to_owned());
                }
            }
        }
    }
}

/// The analyzer fields a bundle reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FactNeeds {
    /// Fields of `shell`.
    pub(crate) shell: Fields,
    /// Fields of `sql`.
    pub(crate) sql: Fields,
}

impl FactNeeds {
    /// Every field of every root (what explanations show).
    pub(crate) fn all() -> Self {
        FactNeeds {
            shell: Fields::All,
            sql: Fields::All,
        }
    }

    /// The needs of expressions reading `paths` (`shell.destructive`, or `sql` for the whole
    /// root), as [`Condition::reads`](crate::Condition::reads) lists them.
    pub(crate) fn from_reads<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let mut needs = FactNeeds::default();
        for path in paths {
            let mut parts = path.splitn(3, '.');
            let (root, field) = (parts.next(), parts.next());
            match root {
                Some("shell") => needs.shell.add(field),
                Some("sql") => needs.sql.add(field),
                _ => {}
            }
        }
        needs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_collected_per_root() {
        let needs = FactNeeds::from_reads([
            "shell.destructive",
            "agent.labels.env",
            "sql.kinds",
            "shell.destructive",
        ]);
        assert_eq!(needs.shell, Fields::Only(vec!["destructive".into()]));
        assert_eq!(needs.sql, Fields::Only(vec!["kinds".into()]));
        assert!(!needs.shell.wants("findings"));
    }

    #[test]
    fn a_whole_root_read_needs_every_field() {
        let needs = FactNeeds::from_reads(["shell.opaque", "shell", "shell.mutates"]);
        assert_eq!(needs.shell, Fields::All);
        assert!(needs.shell.wants("findings"));
        assert_eq!(needs.sql, Fields::default());
    }
}
