//! The variable table shared by a page and everything it includes: case-insensitive
//! names in insertion order (Apache's `subprocess_env`, an APR table), with the
//! date built-ins rendered lazily on first use.

use std::collections::HashMap;

/// A built-in whose value is rendered on first use, with the `timefmt` of the
/// document that asks first (Apache's `LAZY_VALUE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lazy {
    DateLocal,
    DateGmt,
    LastModified,
}

#[derive(Clone, Debug)]
enum Value {
    Set(Vec<u8>),
    Lazy(Lazy),
}

/// Variables of one rendering.
#[derive(Clone, Debug, Default)]
pub(crate) struct VarTable {
    entries: Vec<(Vec<u8>, Value)>,
    index: HashMap<Vec<u8>, usize>,
    /// Entries (by index) whose reading is recorded.
    watched: Vec<usize>,
    watched_read: std::cell::Cell<bool>,
    /// `DATE_LOCAL` or `DATE_GMT` was read: the output depends on the clock.
    pub(crate) clock_read: bool,
}

/// The result of a lookup before lazy values are rendered.
pub(crate) enum Found<'a> {
    Value(&'a [u8]),
    Lazy(Lazy),
}

impl VarTable {
    fn slot(&mut self, name: &[u8], value: Value) {
        let key = name.to_ascii_lowercase();
        match self.index.get(&key) {
            Some(&i) => self.entries[i].1 = value,
            None => {
                self.index.insert(key, self.entries.len());
                self.entries.push((name.to_vec(), value));
            }
        }
    }

    /// Sets `name` (replacing any entry whose name differs only in case).
    pub(crate) fn set(&mut self, name: &[u8], value: Vec<u8>) {
        self.slot(name, Value::Set(value));
    }

    /// Registers a lazily rendered built-in.
    pub(crate) fn set_lazy(&mut self, name: &[u8], lazy: Lazy) {
        self.slot(name, Value::Lazy(lazy));
    }

    /// Records whether `name` (set before) is ever read.
    pub(crate) fn watch(&mut self, name: &[u8]) {
        if let Some(&i) = self.index.get(&name.to_ascii_lowercase()) {
            self.watched.push(i);
        }
    }

    /// A watched variable was read.
    pub(crate) fn watched_read(&self) -> bool {
        self.watched_read.get()
    }

    /// Looks `name` up, case-insensitively.
    pub(crate) fn get(&self, name: &[u8]) -> Option<Found<'_>> {
        let i = *self.index.get(&name.to_ascii_lowercase())?;
        if self.watched.contains(&i) {
            self.watched_read.set(true);
        }
        Some(match &self.entries[i].1 {
            Value::Set(v) => Found::Value(v),
            Value::Lazy(l) => Found::Lazy(*l),
        })
    }

    /// Sets every entry of `other` (`apr_table_overlap` with `APR_OVERLAP_TABLES_SET`).
    pub(crate) fn overlay(&mut self, other: &VarTable) {
        for (name, value) in &other.entries {
            self.slot(name, value.clone());
        }
    }

    /// Names in insertion order (for `printenv`).
    pub(crate) fn names(&self) -> Vec<Vec<u8>> {
        self.entries.iter().map(|(n, _)| n.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_keep_their_place() {
        let mut t = VarTable::default();
        t.set(b"Foo", b"1".to_vec());
        t.set(b"bar", b"2".to_vec());
        t.set(b"FOO", b"3".to_vec());
        assert!(matches!(t.get(b"foo"), Some(Found::Value(b"3"))));
        assert_eq!(t.names(), vec![b"Foo".to_vec(), b"bar".to_vec()]);
        t.set_lazy(b"DATE_LOCAL", Lazy::DateLocal);
        assert!(matches!(
            t.get(b"date_local"),
            Some(Found::Lazy(Lazy::DateLocal))
        ));
        assert!(t.get(b"nope").is_none());
    }
}
