//! `.waitcheck.toml`: a tree's defaults for `waitcheck check` and
//! `waitcheck patch`.
//!
//! In: the file at the tree root (or the one `--config FILE` names). Out: a
//! validated [`Config`]: the default output format, the finding types not
//! to report, extra rules directories (relative to the file), and paths
//! whose findings are not reported (gitignore-style globs, relative to the
//! tree root). The command line wins over the file: `--format` replaces
//! `format`, `--ignore` and `--rules` add to `ignore` and `rules`.
//!
//! ```toml
//! format = "checkpatch"
//! ignore = ["WORK_WAITS_FOR_ITSELF"]
//! rules = ["tools/waitcheck-rules"]
//! exclude = ["drivers/staging/", "**/*_test.c"]
//! ```
//!
//! A file that cannot be used is an error naming `file:line` and the reason:
//! TOML syntax, an unknown key, a value of the wrong type, an unknown format
//! or finding type, a rules directory that does not exist, a bad glob.

use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde::Deserialize;
use toml::Spanned;

use crate::report::Format;

/// The file looked for at the tree root.
pub const FILE_NAME: &str = ".waitcheck.toml";

/// Why a configuration file cannot be used: `file:line: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct ConfigError {
    pub file: String,
    /// 1-based; 1 when the reason has no place in the file.
    pub line: usize,
    pub reason: String,
}

/// The file as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    format: Option<Spanned<String>>,
    #[serde(default)]
    ignore: Vec<Spanned<String>>,
    #[serde(default)]
    rules: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (`None`: no file, the built-in defaults).
    pub file: Option<PathBuf>,
    pub format: Option<Format>,
    /// Finding types not reported, upper case.
    pub ignore: Vec<String>,
    /// Extra rules directories, resolved against the file's directory.
    pub rules: Vec<PathBuf>,
    /// The `exclude` globs as written.
    pub exclude: Vec<String>,
    excludes: Gitignore,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            file: None,
            format: None,
            ignore: Vec::new(),
            rules: Vec::new(),
            exclude: Vec::new(),
            excludes: Gitignore::empty(),
        }
    }
}

impl Config {
    /// `explicit` (`--config FILE`, which must exist), else `.waitcheck.toml`
    /// at `root` if there is one, else the defaults.
    ///
    /// # Errors
    /// A file that cannot be read or used, as `file:line: reason`.
    pub fn find(root: &Path, explicit: Option<&Path>) -> Result<Config, ConfigError> {
        match explicit {
            Some(path) => Config::load(path, root),
            None => {
                let path = root.join(FILE_NAME);
                if path.is_file() {
                    Config::load(&path, root)
                } else {
                    Ok(Config::default())
                }
            }
        }
    }

    /// Read and validate `path`; `exclude` globs are relative to `root`.
    ///
    /// # Errors
    /// As [`Config::find`].
    pub fn load(path: &Path, root: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: 1,
            reason: format!("cannot read: {e}"),
        })?;
        Config::parse(&file, &text, path.parent().unwrap_or(Path::new(".")), root)
    }

    /// Validate `text`, the contents of `file`; `rules` are relative to
    /// `dir`, `exclude` globs to `root`.
    ///
    /// # Errors
    /// As [`Config::find`].
    pub fn parse(file: &str, text: &str, dir: &Path, root: &Path) -> Result<Config, ConfigError> {
        let at = |offset: usize, reason: String| ConfigError {
            file: file.to_string(),
            line: line_of(text, offset),
            reason,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            at(offset, one_line(e.message()))
        })?;
        let format = match &raw.format {
            None => None,
            Some(f) => Some(Format::from_name(f.get_ref()).ok_or_else(|| {
                let names: Vec<&str> = Format::NAMES.iter().map(|(n, _)| *n).collect();
                at(
                    f.span().start,
                    format!(
                        "unknown format `{}`; expected one of: {}",
                        f.get_ref(),
                        names.join(", ")
                    ),
                )
            })?),
        };
        let mut ignore = Vec::new();
        for t in &raw.ignore {
            let kind = t.get_ref().trim().to_ascii_uppercase();
            if !crate::explain::TYPES.contains(&kind.as_str()) {
                return Err(at(
                    t.span().start,
                    format!(
                        "unknown finding type `{}` in `ignore`; known types: {}",
                        t.get_ref(),
                        crate::explain::TYPES.join(", ")
                    ),
                ));
            }
            ignore.push(kind);
        }
        let mut rules = Vec::new();
        for r in &raw.rules {
            let d = dir.join(r.get_ref());
            if !d.is_dir() {
                return Err(at(
                    r.span().start,
                    format!(
                        "rules directory `{}` does not exist (relative to this file)",
                        r.get_ref()
                    ),
                ));
            }
            rules.push(d);
        }
        let mut builder = GitignoreBuilder::new(root);
        for g in &raw.exclude {
            builder.add_line(None, g.get_ref()).map_err(|e| {
                at(
                    g.span().start,
                    format!("bad `exclude` glob `{}`: {e}", g.get_ref()),
                )
            })?;
        }
        let excludes = builder
            .build()
            .map_err(|e| at(0, format!("bad `exclude` globs: {e}")))?;
        Ok(Config {
            file: Some(PathBuf::from(file)),
            format,
            ignore,
            rules,
            exclude: raw.exclude.iter().map(|g| g.get_ref().clone()).collect(),
            excludes,
        })
    }

    /// Is `path` (relative to the tree root, `/`-separated) excluded?
    #[must_use]
    pub fn excluded(&self, path: &str) -> bool {
        !self.exclude.is_empty()
            && self
                .excludes
                .matched_path_or_any_parents(Path::new(path), false)
                .is_ignore()
    }

    /// Is a finding of type `kind` ignored by the file?
    #[must_use]
    pub fn ignores(&self, kind: &str) -> bool {
        self.ignore.iter().any(|t| t.eq_ignore_ascii_case(kind))
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("my-rules")).expect("mkdir");
        Config::parse(".waitcheck.toml", text, dir.path(), dir.path())
    }

    #[test]
    fn a_full_file_is_read() {
        let c = parse(
            "format = \"sarif\"\nignore = [\"work_waits_for_itself\"]\nrules = [\"my-rules\"]\nexclude = [\"drivers/staging/\", \"**/*_test.c\"]\n",
        )
        .expect("valid");
        assert_eq!(c.format, Some(Format::Sarif));
        assert_eq!(c.ignore, vec!["WORK_WAITS_FOR_ITSELF"]);
        assert!(c.rules[0].ends_with("my-rules"));
        assert!(c.ignores("Work_Waits_For_Itself"));
        assert!(c.excluded("drivers/staging/foo/bar.c"));
        assert!(c.excluded("drivers/misc/x_test.c"));
        assert!(!c.excluded("drivers/misc/x.c"));
        assert!(!Config::default().excluded("drivers/staging/foo.c"));
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (
                "format = \"checkpatch\"\nformat = \"json\"\n",
                2,
                "duplicate key",
            ),
            ("\n\nformat = \"xml\"\n", 3, "unknown format `xml`"),
            (
                "ignore = [\n  \"PROBE_FLUSH_WAITS_FOR_PROBE\",\n  \"NO_SUCH\",\n]\n",
                3,
                "unknown finding type `NO_SUCH`",
            ),
            (
                "rules = [\"nowhere\"]\n",
                1,
                "rules directory `nowhere` does not exist",
            ),
            (
                "# a comment\ncolour = \"red\"\n",
                2,
                "unknown field `colour`",
            ),
            (
                "ignore = \"PROBE_FLUSH_WAITS_FOR_PROBE\"\n",
                1,
                "invalid type",
            ),
            ("format = \n", 1, ""),
            ("exclude = [\"[z-a]\"]\n", 1, "bad `exclude` glob"),
        ];
        for (text, line, reason) in cases {
            let e = parse(text)
                .err()
                .unwrap_or_else(|| panic!("accepted: {text:?}"));
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.reason.contains(reason), "{text:?}: {e}");
            assert!(e
                .to_string()
                .starts_with(&format!(".waitcheck.toml:{line}: ")));
            assert!(!e.reason.contains('\n'));
        }
    }
}
