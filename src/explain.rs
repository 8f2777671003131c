//! `waitcheck explain TYPE`: the documentation of every finding type.
//!
//! In: a type name (any case). Out: its Markdown page from `docs/findings/`,
//! embedded at build time so the binary explains itself offline, or its
//! one-sentence summary (for listings, SARIF rule descriptions, help).
//! Each page has the same five sections, like a clippy lint's page.

use std::sync::OnceLock;

/// Declares `TYPES` and the embedded page of each from one list: a type
/// without a page does not build (and a test catches a page without a type).
macro_rules! finding_types {
    ($($kind:ident),+ $(,)?) => {
        /// Every finding type, by its stable name (the `type` field of a
        /// finding), in the order `waitcheck explain` lists them.
        pub const TYPES: &[&str] = &[$(stringify!($kind)),+];

        /// The page of each of `TYPES`, same order.
        const PAGES: &[&str] = &[$(
            include_str!(concat!("../docs/findings/", stringify!($kind), ".md"))
        ),+];
    };
}

finding_types!(
    PROBE_FLUSH_WAITS_FOR_PROBE,
    DEVICE_LOCK_WAITS_FOR_PROBE,
    WORK_WAIT_UNDER_LOCK,
    WORK_WAIT_UNDER_DEVICE_LOCK,
    WORK_WAITS_FOR_ITSELF,
    CIRCULAR_WAIT,
);

/// The Markdown page of `kind` (matched case-insensitively).
#[must_use]
pub fn explain(kind: &str) -> Option<&'static str> {
    index(kind).and_then(|i| PAGES.get(i).copied())
}

/// The first sentence of the page's "What it detects", on one line.
#[must_use]
pub fn summary(kind: &str) -> Option<&'static str> {
    static SUMMARIES: OnceLock<Vec<String>> = OnceLock::new();
    let all = SUMMARIES.get_or_init(|| PAGES.iter().map(|p| first_sentence(p)).collect());
    index(kind).and_then(|i| all.get(i)).map(String::as_str)
}

fn index(kind: &str) -> Option<usize> {
    TYPES.iter().position(|t| t.eq_ignore_ascii_case(kind))
}

/// The body of the `## title` section of a page, without its heading.
fn section<'a>(page: &'a str, title: &str) -> Option<&'a str> {
    let heading = format!("\n## {title}\n");
    let start = page.find(&heading)? + heading.len();
    let body = &page[start..];
    let end = body.find("\n## ").map_or(body.len(), |e| e + 1);
    Some(&body[..end])
}

/// The first sentence of "What it detects", its line breaks folded: up to
/// the first full stop followed by white space, or the whole first paragraph.
fn first_sentence(page: &str) -> String {
    let body = section(page, "What it detects").unwrap_or("");
    let paragraph = body.trim_start().split("\n\n").next().unwrap_or("");
    let words: Vec<&str> = paragraph.split_whitespace().collect();
    let end = words
        .iter()
        .position(|w| w.ends_with('.'))
        .map_or(words.len(), |i| i + 1);
    words[..end].join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sections every page has, in this order.
    const SECTIONS: &[&str] = &[
        "What it detects",
        "Why it deadlocks",
        "Example",
        "How to fix",
        "Known limits",
    ];

    #[test]
    fn every_type_has_a_page_with_all_sections_in_order() {
        for kind in TYPES {
            let page = explain(kind).unwrap_or_else(|| panic!("{kind}: no page"));
            assert!(page.starts_with(&format!("# {kind}\n")), "{kind}: title");
            let mut last = 0;
            for title in SECTIONS {
                let heading = format!("\n## {title}\n");
                let at = page.find(&heading);
                let at = at.unwrap_or_else(|| panic!("{kind}: no section `{title}`"));
                assert!(at > last, "{kind}: `{title}` out of order");
                let body = section(page, title).unwrap_or("");
                assert!(body.trim().len() > 40, "{kind}: `{title}` is empty");
                last = at;
            }
            assert!(page.contains("```c\n"), "{kind}: no C example");
        }
    }

    #[test]
    fn summaries_are_one_sentence() {
        for kind in TYPES {
            let s = summary(kind).unwrap_or_default();
            assert!(s.ends_with('.'), "{kind}: {s:?}");
            assert!(!s.contains('\n') && s.len() < 200, "{kind}: {s:?}");
        }
    }

    #[test]
    fn lookup_ignores_case_and_rejects_unknown_types() {
        assert_eq!(
            explain("probe_flush_waits_for_probe"),
            explain("PROBE_FLUSH_WAITS_FOR_PROBE")
        );
        assert!(summary("Work_Waits_For_Itself").is_some());
        assert!(explain("NO_SUCH_TYPE").is_none());
        assert!(summary("").is_none());
    }

    #[test]
    fn every_page_on_disk_is_a_type() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/findings");
        for e in std::fs::read_dir(dir).expect("docs/findings") {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            let kind = name.strip_suffix(".md").unwrap_or(&name);
            assert!(
                TYPES.contains(&kind),
                "docs/findings/{name} is no finding type"
            );
        }
    }
}
