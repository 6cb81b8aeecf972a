//! The egress domain rules a config load collects from every source ([`DomainAcc`]), kept in
//! the reader's state ([`super::reader::Cx`]) and filled by [`super::network`].

/// Domain rules collected from every source, in order, each with the key it came from.
#[derive(Clone, Debug, Default)]
pub(super) struct DomainAcc {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    pub allow_local_binding: bool,
    /// Where the first rule (or `enabled = true`) came from, for messages.
    pub first_source: Option<String>,
}

impl DomainAcc {
    pub(super) fn note(&mut self, source: String) {
        self.first_source.get_or_insert(source);
    }

    /// Adds checked patterns to the allow (or deny) list; `source` says where they came from.
    pub(super) fn extend(&mut self, patterns: &[String], allow: bool, source: String) {
        if patterns.is_empty() {
            return;
        }
        self.note(source);
        let list = if allow {
            &mut self.allow
        } else {
            &mut self.deny
        };
        list.extend(patterns.iter().cloned());
    }
}
