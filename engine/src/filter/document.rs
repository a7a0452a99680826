//! Document tests: `where_document`, and `#document` tests inside `where`.
//!
//! `$contains` is a case-sensitive substring test (`""` matches every record
//! that has a document); `$regex` finds a match anywhere (Rust regex syntax,
//! so `(?i)` works). A record without a document fails every positive test
//! and passes every negative one.

use super::ast::{DocumentTest, WhereDocument};

impl DocumentTest {
    /// Whether a record with this document passes the test.
    pub fn matches(&self, document: Option<&str>) -> bool {
        match self {
            DocumentTest::Contains(text) => document.is_some_and(|d| d.contains(text.as_str())),
            DocumentTest::NotContains(text) => !document.is_some_and(|d| d.contains(text.as_str())),
            DocumentTest::Regex(p) => document.is_some_and(|d| p.regex().is_match(d)),
            DocumentTest::NotRegex(p) => !document.is_some_and(|d| p.regex().is_match(d)),
        }
    }

    /// Whether this is a negative test (`$not_contains`, `$not_regex`).
    pub fn is_negative(&self) -> bool {
        matches!(
            self,
            DocumentTest::NotContains(_) | DocumentTest::NotRegex(_)
        )
    }
}

impl WhereDocument {
    /// Whether a record with this document matches.
    pub fn matches(&self, document: Option<&str>) -> bool {
        match self {
            WhereDocument::And(children) => children.iter().all(|c| c.matches(document)),
            WhereDocument::Or(children) => children.iter().any(|c| c.matches(document)),
            WhereDocument::Test(test) => test.matches(document),
        }
    }
}
