//! Application: one [`Patch`] + the current tree -> the new content of every
//! file it touches.
//!
//! In: a parsed patch and a callback `read(path)` returning the bytes of a
//! file of the tree as it is before this patch (`None` if it does not
//! exist). The caller keeps the overlay of earlier patches of a series and
//! answers `read` from it.
//!
//! Out: an [`Applied`] with the new content of each touched path (`None` for
//! a deleted or renamed-away path), the new-file line numbers of the patch's
//! own lines ([`TouchedLines`]) and the hunks that applied at an offset, or
//! an [`ApplyError`] naming the patch, the file, the hunk and its input line.
//!
//! Application is exact, like `git apply` without fuzz: every context and
//! removed line must match byte for byte (line endings aside). A hunk may
//! apply at an offset: the search goes outward from the stated line, as GNU
//! patch does without fuzz, but never before the end of the previous hunk.
//! A hunk with less context on one side than the other (or a
//! `\ No newline at end of file` marker) must sit at that end of the file.
//! Lines keep the file's own endings; added lines take the file's dominant
//! ending (`\r\n` or `\n`).

use std::fmt;
use std::io;

use super::parse::clip;
use super::{FileDiff, Hunk, HunkLine, Patch};

/// Everything one patch changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Each touched path once, in patch order, with its new bytes; `None`
    /// when the patch deletes it (or renames it away).
    pub files: Vec<(String, Option<Vec<u8>>)>,
    /// For each file with hunks, where the patch's own lines are now.
    pub touched: Vec<TouchedLines>,
    /// Hunks that applied away from their stated line.
    pub offsets: Vec<HunkOffset>,
    /// Paths of binary changes, which are not applied.
    pub skipped_binary: Vec<String>,
}

/// The lines of one file that the patch wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TouchedLines {
    /// Path of the new file.
    pub path: String,
    /// 1-based numbers, in the new file, of every added line.
    pub added: Vec<u32>,
    /// Per hunk, `(start, len)`: it covers new-file lines `start..start+len`
    /// (1-based; for `len == 0`, a pure deletion, `start` is the line that
    /// now follows the removed ones).
    pub hunks: Vec<(u32, u32)>,
}

/// A hunk that applied `offset` lines away from the line its header states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HunkOffset {
    pub path: String,
    /// 1-based number of the hunk within its file.
    pub hunk: usize,
    /// Input line of the hunk's `@@` header.
    pub line: usize,
    pub offset: i64,
}

impl fmt::Display for HunkOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.offset.abs() == 1 { "" } else { "s" };
        write!(
            f,
            "{}: hunk #{} (patch line {}) applied at offset {:+} line{s}",
            self.path, self.hunk, self.line, self.offset
        )
    }
}

/// Why a patch does not apply: names the patch, the file, the hunk and the
/// input line of its header (of the file's header when no hunk is at fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ApplyError {
    /// [`Patch::title`] of the patch.
    pub patch: String,
    pub file: String,
    /// 1-based number of the failing hunk within its file.
    pub hunk: Option<usize>,
    /// Input line of the hunk's `@@` header, or of the file's header.
    pub line: usize,
    pub kind: ApplyErrorKind,
}

impl ApplyError {
    fn render(&self) -> String {
        let reason = self.kind.describe(&self.file);
        match self.hunk {
            Some(n) => format!(
                "patch \"{}\": {}: hunk #{n} (patch line {}): {reason}",
                self.patch, self.file, self.line
            ),
            None => format!(
                "patch \"{}\": {} (patch line {}): {reason}",
                self.patch, self.file, self.line
            ),
        }
    }
}

/// The reason of an [`ApplyError`]; [`ApplyErrorKind::describe`] words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyErrorKind {
    /// The hunk's old line at `line` (1-based) is not what the file has;
    /// `found` is `None` where the file ends before that line.
    ContextDiffers {
        line: usize,
        expected: Box<str>,
        found: Option<Box<str>>,
    },
    /// Less leading than trailing context: the hunk belongs at line 1.
    NotAtStart,
    /// Less trailing than leading context (or a no-newline marker): the
    /// hunk belongs at the end, but the file goes on after `line`.
    NotAtEnd {
        line: usize,
    },
    /// The file's last line `line` and the patch disagree on its newline.
    NewlineDiffers {
        line: usize,
        patch_expects_newline: bool,
    },
    /// The hunk matches only before the end of the previous hunk.
    Overlaps,
    Missing,
    AlreadyExists,
    TargetExists,
    /// A deletion that would leave this many lines of the file behind.
    DeletedNotEmpty(usize),
    /// `read` failed.
    Read(String),
}

impl ApplyErrorKind {
    /// The reason in words; `file` is the path being patched.
    pub fn describe(&self, file: &str) -> String {
        use ApplyErrorKind::*;
        let no_apply = "does not apply";
        match self {
            ContextDiffers {
                line,
                expected,
                found,
            } => {
                let found = match found {
                    Some(text) => format!("`{text}`"),
                    None => "the end of the file".to_string(),
                };
                format!("{no_apply}: context at line {line} of {file} differs: expected `{expected}`, found {found}")
            }
            NotAtStart => {
                format!("{no_apply}: the hunk changes the start of {file} but its context is not at line 1")
            }
            NotAtEnd { line } => {
                format!("{no_apply}: the hunk changes the end of {file} but the file goes on after line {line}")
            }
            NewlineDiffers {
                line,
                patch_expects_newline: true,
            } => format!("{no_apply}: line {line} of {file} has no newline at its end, but the patch expects one"),
            NewlineDiffers { line, .. } => {
                format!("{no_apply}: line {line} of {file} ends with a newline, but the patch says it has none")
            }
            Overlaps => format!("{no_apply}: its context overlaps the previous hunk's"),
            Missing => "file to patch does not exist".to_string(),
            AlreadyExists => "new file already exists".to_string(),
            TargetExists => "target of the rename or copy already exists".to_string(),
            DeletedNotEmpty(n) => {
                format!("{no_apply}: deleting {file} would drop {n} line(s) the patch does not remove")
            }
            Read(e) => format!("cannot read {file}: {e}"),
        }
    }
}

/// The callback that gives the current bytes of a path.
type Reader<'r> = dyn FnMut(&str) -> io::Result<Option<Vec<u8>>> + 'r;

/// Applies every file diff of `patch` to the files `read` returns. Diffs of
/// one patch see each other's results (a patch may touch a path twice).
pub fn apply(patch: &Patch, read: &mut Reader<'_>) -> Result<Applied, ApplyError> {
    let mut run = Run {
        patch,
        read,
        applied: Applied::default(),
    };
    for file in &patch.files {
        run.file(file)?;
    }
    Ok(run.applied)
}

struct Run<'p, 'r, 'a> {
    patch: &'p Patch,
    read: &'r mut Reader<'a>,
    applied: Applied,
}

impl Run<'_, '_, '_> {
    fn error(&self, file: &FileDiff, hunk: Option<usize>, kind: ApplyErrorKind) -> ApplyError {
        let line = hunk
            .and_then(|n| file.hunks.get(n.wrapping_sub(1)))
            .map_or(file.line, |h| h.line);
        ApplyError {
            patch: self.patch.title(),
            file: file.path().to_string(),
            hunk,
            line,
            kind,
        }
    }

    /// The bytes of `path` as this patch left them so far, else as `read`
    /// gives them.
    fn current(&mut self, file: &FileDiff, path: &str) -> Result<Option<Vec<u8>>, ApplyError> {
        if let Some((_, content)) = self.applied.files.iter().find(|(p, _)| p == path) {
            return Ok(content.clone());
        }
        (self.read)(path).map_err(|e| self.error(file, None, ApplyErrorKind::Read(e.to_string())))
    }

    fn set(&mut self, path: &str, content: Option<Vec<u8>>) {
        match self.applied.files.iter_mut().find(|(p, _)| p == path) {
            Some(entry) => entry.1 = content,
            None => self.applied.files.push((path.to_string(), content)),
        }
    }

    fn file(&mut self, file: &FileDiff) -> Result<(), ApplyError> {
        if file.binary {
            self.applied.skipped_binary.push(file.path().to_string());
            return Ok(());
        }
        let old = self.old_content(file)?;
        let patched = patch_lines(&old, &file.hunks)
            .map_err(|(hunk, kind)| self.error(file, Some(hunk + 1), kind))?;
        let new_path = match (&file.new_path, &file.old_path) {
            (Some(new), _) => new.clone(),
            (None, Some(old_path)) => {
                let left = patched.line_count;
                if left > 0 {
                    return Err(self.error(file, None, ApplyErrorKind::DeletedNotEmpty(left)));
                }
                self.set(old_path, None);
                return Ok(());
            }
            (None, None) => return Ok(()),
        };
        if let Some(old_path) = file.old_path.as_ref().filter(|p| **p != new_path) {
            if !file.copy {
                self.set(old_path, None);
            }
        }
        self.record(file, &new_path, patched);
        Ok(())
    }

    /// The content the diff applies to: empty for a new file, which must not
    /// exist yet; a rename or copy target must not exist either.
    fn old_content(&mut self, file: &FileDiff) -> Result<Vec<u8>, ApplyError> {
        let moved = file.old_path.is_some() && file.old_path != file.new_path;
        if let Some(new) = file.new_path.as_deref() {
            if (file.old_path.is_none() || moved) && self.current(file, new)?.is_some() {
                let kind = match moved {
                    true => ApplyErrorKind::TargetExists,
                    false => ApplyErrorKind::AlreadyExists,
                };
                return Err(self.error(file, None, kind));
            }
        }
        match file.old_path.as_deref() {
            None => Ok(Vec::new()),
            Some(path) => self
                .current(file, path)?
                .ok_or_else(|| self.error(file, None, ApplyErrorKind::Missing)),
        }
    }

    fn record(&mut self, file: &FileDiff, path: &str, patched: Patched) {
        self.set(path, Some(patched.bytes));
        for (k, offset) in patched.offsets {
            self.applied.offsets.push(HunkOffset {
                path: path.to_string(),
                hunk: k + 1,
                line: file.hunks.get(k).map_or(file.line, |h| h.line),
                offset,
            });
        }
        if !file.hunks.is_empty() {
            self.applied.touched.push(TouchedLines {
                path: path.to_string(),
                added: patched.added,
                hunks: patched.hunks,
            });
        }
    }
}

/// One line of the file being patched: its text and its ending (`\n`,
/// `\r\n`, or empty for a last line without newline).
#[derive(Debug, Clone, Copy)]
struct FileLine<'a> {
    text: &'a [u8],
    eol: &'a [u8],
}

fn split_file(bytes: &[u8]) -> Vec<FileLine<'_>> {
    let mut lines = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (line, after) = match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => rest.split_at(nl + 1),
            None => (rest, &[][..]),
        };
        let ending = if line.ends_with(b"\r\n") {
            2
        } else {
            usize::from(line.ends_with(b"\n"))
        };
        let (text, eol) = line.split_at(line.len() - ending);
        lines.push(FileLine { text, eol });
        rest = after;
    }
    lines
}

/// `\r\n` when most lines end so, else `\n`.
fn dominant_eol(lines: &[FileLine]) -> &'static [u8] {
    let crlf = lines.iter().filter(|l| l.eol == b"\r\n").count();
    let lf = lines.iter().filter(|l| l.eol == b"\n").count();
    if crlf > lf {
        b"\r\n"
    } else {
        b"\n"
    }
}

/// A file line equals a hunk line; a file line that is not UTF-8 is
/// compared the lossy way the parser read the patch.
fn same_line(file: &[u8], hunk: &str) -> bool {
    file == hunk.as_bytes()
        || (std::str::from_utf8(file).is_err() && String::from_utf8_lossy(file) == hunk)
}

/// The result of applying the hunks of one file.
#[derive(Debug, Default)]
struct Patched {
    bytes: Vec<u8>,
    line_count: usize,
    added: Vec<u32>,
    hunks: Vec<(u32, u32)>,
    /// (hunk index, offset) of hunks that moved.
    offsets: Vec<(usize, i64)>,
}

/// Output being built, line by line.
struct Writer<'e> {
    patched: Patched,
    eol: &'e [u8],
    /// The last line written has no ending: add one before the next line.
    open: bool,
}

impl Writer<'_> {
    fn push(&mut self, text: &[u8], eol: &[u8]) -> u32 {
        if self.open {
            self.patched.bytes.extend_from_slice(self.eol);
        }
        self.patched.bytes.extend_from_slice(text);
        self.patched.bytes.extend_from_slice(eol);
        self.open = eol.is_empty();
        self.patched.line_count += 1;
        u32::try_from(self.patched.line_count).unwrap_or(u32::MAX)
    }

    fn next_line(&self) -> u32 {
        u32::try_from(self.patched.line_count + 1).unwrap_or(u32::MAX)
    }
}

/// Applies `hunks` in order to `old`; on failure, the index of the hunk
/// and why.
fn patch_lines(old: &[u8], hunks: &[Hunk]) -> Result<Patched, (usize, ApplyErrorKind)> {
    let lines = split_file(old);
    let mut out = Writer {
        patched: Patched::default(),
        eol: dominant_eol(&lines),
        open: false,
    };
    let mut cursor = 0;
    let mut last_offset = 0i64;
    for (k, hunk) in hunks.iter().enumerate() {
        let want = Wanted::new(hunk);
        let expected = clamp_position(want.stated as i64 + last_offset, cursor, lines.len());
        let pos = find(&lines, &want, expected, cursor)
            .ok_or_else(|| (k, diagnose(&lines, &want, expected, cursor)))?;
        last_offset = pos as i64 - want.stated as i64;
        if last_offset != 0 {
            out.patched.offsets.push((k, last_offset));
        }
        for line in lines.get(cursor..pos).unwrap_or_default() {
            out.push(line.text, line.eol);
        }
        write_hunk(&mut out, hunk, &lines, pos);
        cursor = pos + want.old.len();
    }
    for line in lines.get(cursor..).unwrap_or_default() {
        out.push(line.text, line.eol);
    }
    Ok(out.patched)
}

fn clamp_position(pos: i64, low: usize, len: usize) -> usize {
    let pos = usize::try_from(pos.max(0)).unwrap_or(usize::MAX);
    pos.max(low).min(len.max(low))
}

/// What a hunk needs from the file.
struct Wanted<'h> {
    hunk: &'h Hunk,
    old: Vec<&'h str>,
    /// 0-based index where the header says the old lines start.
    stated: usize,
    at_start: bool,
    at_end: bool,
}

impl<'h> Wanted<'h> {
    fn new(hunk: &'h Hunk) -> Wanted<'h> {
        let old: Vec<&str> = hunk.old_lines().collect();
        let start = usize::try_from(hunk.old_start).unwrap_or(usize::MAX);
        // `-5,0` inserts after line 5; `-5,3` starts at line 5.
        let stated = if old.is_empty() {
            start
        } else {
            start.saturating_sub(1)
        };
        let is_context = |l: &&HunkLine| matches!(l, HunkLine::Context(_));
        let leading = hunk.lines.iter().take_while(is_context).count();
        let trailing = hunk.lines.iter().rev().take_while(is_context).count();
        let changes = leading < hunk.lines.len();
        // Less context on one side means the diff hit that end of the file
        // (GNU patch's rule); a newline marker only occurs at the end.
        let no_newline = hunk.old_missing_newline || hunk.new_missing_newline;
        Wanted {
            hunk,
            old,
            stated,
            at_start: changes && leading < trailing,
            at_end: (changes && trailing < leading) || no_newline,
        }
    }

    /// Whether the hunk's old lines sit at `pos`, including the file's
    /// final newline when they reach the end.
    fn matches_at(&self, lines: &[FileLine], pos: usize) -> bool {
        let end = pos + self.old.len();
        let Some(window) = lines.get(pos..end) else {
            return false;
        };
        let same = window
            .iter()
            .zip(&self.old)
            .all(|(f, h)| same_line(f.text, h));
        same && self.anchored(lines.len(), pos) && self.newline_ok(lines, end)
    }

    fn anchored(&self, len: usize, pos: usize) -> bool {
        (!self.at_start || pos == 0) && (!self.at_end || pos + self.old.len() == len)
    }

    /// A file whose last line lacks a newline matches only a hunk that says
    /// so, and vice versa.
    fn newline_ok(&self, lines: &[FileLine], end: usize) -> bool {
        let reaches_end = !self.old.is_empty() && end == lines.len();
        let file_missing = lines.last().is_some_and(|l| l.eol.is_empty());
        match reaches_end {
            true => file_missing == self.hunk.old_missing_newline,
            false => !self.hunk.old_missing_newline,
        }
    }
}

/// The first position, going outward from `expected`, where the hunk
/// matches, not before `cursor` (the end of the previous hunk).
fn find(lines: &[FileLine], want: &Wanted, expected: usize, cursor: usize) -> Option<usize> {
    let last = lines.len().checked_sub(want.old.len())?;
    if cursor > last {
        return None;
    }
    let expected = expected.clamp(cursor, last);
    let reach = (expected - cursor).max(last - expected);
    (0..=reach).find_map(|d| {
        let below = expected.checked_sub(d).filter(|&p| p >= cursor);
        let above = expected.checked_add(d).filter(|&p| p <= last && d > 0);
        [below, above]
            .into_iter()
            .flatten()
            .find(|&p| want.matches_at(lines, p))
    })
}

/// Explains why the hunk does not match at `pos`, its expected place (not
/// before `cursor`, the end of the previous hunk).
fn diagnose(lines: &[FileLine], want: &Wanted, pos: usize, cursor: usize) -> ApplyErrorKind {
    let before = (0..cursor).rev().find(|&p| want.matches_at(lines, p));
    if before.is_some() && want.stated < cursor {
        return ApplyErrorKind::Overlaps;
    }
    for (k, expected) in want.old.iter().enumerate() {
        let found = lines.get(pos + k).map(|l| l.text);
        if !found.is_some_and(|f| same_line(f, expected)) {
            return ApplyErrorKind::ContextDiffers {
                line: pos + k + 1,
                expected: clip(expected).into(),
                found: found.map(|f| clip(&String::from_utf8_lossy(f)).into()),
            };
        }
    }
    let end = pos + want.old.len();
    if want.at_start && pos != 0 {
        return ApplyErrorKind::NotAtStart;
    }
    if want.at_end && end != lines.len() {
        return ApplyErrorKind::NotAtEnd { line: end };
    }
    if !want.newline_ok(lines, end) {
        return ApplyErrorKind::NewlineDiffers {
            line: end.max(1),
            patch_expects_newline: !want.hunk.old_missing_newline,
        };
    }
    ApplyErrorKind::Overlaps
}

/// Writes the hunk's new side for a match at `pos`: context lines keep the
/// file's bytes and endings, added lines take the hunk's text.
fn write_hunk(out: &mut Writer, hunk: &Hunk, lines: &[FileLine], pos: usize) {
    let last_new = hunk
        .lines
        .iter()
        .rposition(|l| !matches!(l, HunkLine::Remove(_)));
    let start = out.next_line();
    let mut written = 0u32;
    let mut old_index = pos;
    for (i, line) in hunk.lines.iter().enumerate() {
        let final_open = hunk.new_missing_newline && Some(i) == last_new;
        match line {
            HunkLine::Context(text) => {
                let file_line = lines.get(old_index);
                let text = file_line.map_or(text.as_bytes(), |l| l.text);
                let eol = match (final_open, file_line.map(|l| l.eol)) {
                    (true, _) => &[][..],
                    (false, Some(eol)) if !eol.is_empty() => eol,
                    _ => out.eol,
                };
                out.push(text, eol);
                old_index += 1;
                written += 1;
            }
            HunkLine::Remove(_) => old_index += 1,
            HunkLine::Add(text) => {
                let eol = if final_open { &[][..] } else { out.eol };
                let n = out.push(text.as_bytes(), eol);
                out.patched.added.push(n);
                written += 1;
            }
        }
    }
    out.patched.hunks.push((start, written));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use super::super::test_support::{dir, read};
    use super::super::{parse_series, Series};
    use super::*;

    /// The toy tree under `testdata/patches/tree` with an overlay of what
    /// earlier patches wrote. It also answers `drivers/X` with `X`, so the
    /// kernel-style paths of `urn.diff` find their files.
    #[derive(Default)]
    struct Tree {
        root: PathBuf,
        overlay: BTreeMap<String, Option<Vec<u8>>>,
    }

    impl Tree {
        fn toy() -> Tree {
            Tree::at(dir().join("tree"))
        }

        fn at(root: PathBuf) -> Tree {
            Tree {
                root,
                overlay: BTreeMap::new(),
            }
        }

        fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
            if let Some(content) = self.overlay.get(path) {
                return Ok(content.clone());
            }
            let rel = path
                .strip_prefix("drivers/")
                .filter(|_| self.root.ends_with("tree"));
            match std::fs::read(self.root.join(rel.unwrap_or(path))) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        }

        fn apply(&mut self, patch: &Patch) -> Result<Applied, ApplyError> {
            let applied = apply(patch, &mut |p: &str| self.read(p))?;
            check_touched(patch, &applied);
            for (path, content) in &applied.files {
                self.overlay.insert(path.clone(), content.clone());
            }
            Ok(applied)
        }

        fn get(&self, path: &str) -> Option<Vec<u8>> {
            self.read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
        }
    }

    fn series(name: &str) -> Series {
        parse_series(name, &read(name)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn one_patch(name: &str) -> Patch {
        let mut s = series(name);
        assert_eq!(s.patches.len(), 1);
        s.patches.remove(0)
    }

    fn parse_text(text: &[u8]) -> Patch {
        let mut s = parse_series("t.patch", text).unwrap_or_else(|e| panic!("{e}"));
        s.patches.remove(0)
    }

    /// Applies `patch` to files given as (path, content).
    fn apply_to(patch: &Patch, files: &[(&str, &[u8])]) -> Result<Applied, ApplyError> {
        let files: BTreeMap<String, Vec<u8>> = files
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_vec()))
            .collect();
        let applied = apply(patch, &mut |p: &str| Ok(files.get(p).cloned()))?;
        check_touched(patch, &applied);
        Ok(applied)
    }

    fn content<'a>(applied: &'a Applied, path: &str) -> Option<&'a [u8]> {
        let entry = applied.files.iter().find(|(p, _)| p == path);
        entry
            .unwrap_or_else(|| panic!("{path} not in {:?}", applied.files))
            .1
            .as_deref()
    }

    /// Every added line is where `touched` says, and every hunk's new side
    /// is in its range: the invariant callers rely on to point at lines.
    fn check_touched(patch: &Patch, applied: &Applied) {
        for t in &applied.touched {
            let Some(Some(bytes)) = applied
                .files
                .iter()
                .find(|(p, _)| *p == t.path)
                .map(|(_, c)| c)
            else {
                panic!("{} touched but not written", t.path);
            };
            let lines: Vec<&[u8]> = split_file(bytes).iter().map(|l| l.text).collect();
            let diffs: Vec<&FileDiff> = patch
                .files
                .iter()
                .filter(|f| f.new_path.as_deref() == Some(&t.path))
                .collect();
            if diffs.len() != 1 {
                continue; // a path patched twice: `touched` of the first is stale by design
            }
            let hunks = &diffs[0].hunks;
            let added: Vec<&String> = hunks
                .iter()
                .flat_map(|h| &h.lines)
                .filter_map(|l| match l {
                    HunkLine::Add(s) => Some(s),
                    _ => None,
                })
                .collect();
            assert_eq!(t.added.len(), added.len());
            for (n, text) in t.added.iter().zip(added) {
                assert_eq!(
                    String::from_utf8_lossy(lines[*n as usize - 1]),
                    *text,
                    "{}:{n}",
                    t.path
                );
            }
            assert_eq!(t.hunks.len(), hunks.len());
            for ((start, len), h) in t.hunks.iter().zip(hunks) {
                let got: Vec<String> = lines[*start as usize - 1..][..*len as usize]
                    .iter()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .collect();
                let want: Vec<&str> = h.new_lines().collect();
                assert_eq!(got, want, "{} hunk at {start}", t.path);
            }
        }
    }

    fn expected(rel: &str) -> Vec<u8> {
        read(&format!("expected/{rel}"))
    }

    #[test]
    fn mbox_series_applies_in_order_byte_exact() {
        let mut tree = Tree::toy();
        let s = series("series.mbox");
        let mut all = Vec::new();
        for patch in s.changes() {
            all.push(tree.apply(patch).unwrap_or_else(|e| panic!("{e}")));
        }
        assert_eq!(all.len(), 3);
        assert_eq!(tree.get("lock.c"), Some(expected("series/lock.c")));
        assert_eq!(tree.get("queue.c"), Some(expected("series/queue.c")));
        // Patch 1: two blank-separated lines near the top, one call at the end.
        let t = &all[0].touched;
        assert_eq!(
            (t[0].path.as_str(), t[0].added.clone()),
            ("lock.c", vec![6, 7, 28])
        );
        assert_eq!(t[0].hunks, [(3, 8), (25, 6)]);
        // Patch 2 touches both files; patch 3 adds `toy_kick()` to probe.
        let paths: Vec<&str> = all[1].files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["lock.c", "queue.c"]);
        assert_eq!(all[2].touched[0].added, [7, 21]);
        assert!(all.iter().all(|a| a.offsets.is_empty()));
    }

    /// A patch and, per path it writes, the expected file (`None`: deleted).
    type Case = (
        &'static str,
        &'static [(&'static str, Option<&'static str>)],
    );

    const CASES: &[Case] = &[
        (
            "rename.patch",
            &[
                ("queue.c", None),
                ("workqueue.c", Some("rename/workqueue.c")),
            ],
        ),
        (
            "new-file.patch",
            &[("include/toy.h", Some("new-file/include/toy.h"))],
        ),
        ("delete.patch", &[("old.c", None)]),
        ("omitted-len.patch", &[("one.c", Some("omitted-len/one.c"))]),
        ("crlf-mail.patch", &[("lock.c", Some("crlf-mail/lock.c"))]),
        ("crlf-file.patch", &[("crlf.c", Some("crlf-file/crlf.c"))]),
        (
            "no-newline.patch",
            &[("noeol.c", Some("no-newline/noeol.c"))],
        ),
        (
            "add-newline.patch",
            &[("noeol.c", Some("add-newline/noeol.c"))],
        ),
        (
            "quoted.patch",
            &[("with space.c", Some("quoted/with space.c"))],
        ),
        ("plain.diff", &[("lock.c", Some("plain/lock.c"))]),
        (
            "urn.diff",
            &[
                ("drivers/added.c", Some("urn/drivers/added.c")),
                ("drivers/queue.c", Some("urn/drivers/queue.c")),
            ],
        ),
        ("offset.patch", &[("shift.c", Some("offset/shift.c"))]),
    ];

    #[test]
    fn single_patches_apply_byte_exact() {
        for (name, want) in CASES {
            let patch = one_patch(name);
            let applied = Tree::toy()
                .apply(&patch)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let got: Vec<(&str, Option<&[u8]>)> = applied
                .files
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_deref()))
                .collect();
            let want_bytes: Vec<(&str, Option<Vec<u8>>)> =
                want.iter().map(|(p, e)| (*p, e.map(expected))).collect();
            let want: Vec<(&str, Option<&[u8]>)> =
                want_bytes.iter().map(|(p, c)| (*p, c.as_deref())).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn crlf_file_keeps_crlf_and_added_lines_take_it() {
        let applied = Tree::toy().apply(&one_patch("crlf-file.patch")).unwrap();
        let bytes = content(&applied, "crlf.c").unwrap();
        let text = String::from_utf8_lossy(bytes);
        assert_eq!(text.matches('\n').count(), text.matches("\r\n").count());
        assert!(text.contains("\treturn x + 1;\r\n") && text.ends_with("\treturn 3;\r\n}\r\n"));
    }

    #[test]
    fn offset_is_reported() {
        let applied = Tree::toy().apply(&one_patch("offset.patch")).unwrap();
        let offset = HunkOffset {
            path: "shift.c".into(),
            hunk: 1,
            line: 14,
            offset: 4,
        };
        assert_eq!(applied.offsets.len(), 1);
        assert_eq!(applied.offsets[0], offset);
        assert_eq!(
            offset.to_string(),
            "shift.c: hunk #1 (patch line 14) applied at offset +4 lines"
        );
        assert_eq!(applied.touched[0].added, [12]);
        assert_eq!(applied.touched[0].hunks, [(9, 7)]);
    }

    #[test]
    fn mode_only_and_binary() {
        let applied = Tree::toy().apply(&one_patch("mode-only.patch")).unwrap();
        assert_eq!(
            applied.files,
            [("one.c".to_string(), Some(read("tree/one.c")))]
        );
        assert!(applied.touched.is_empty());

        let applied = Tree::toy().apply(&one_patch("binary.patch")).unwrap();
        assert!(applied.files.is_empty());
        assert_eq!(applied.skipped_binary, ["blob.bin"]);
    }

    #[test]
    fn context_mismatch_names_patch_file_hunk_and_line() {
        let e = Tree::toy().apply(&one_patch("no-apply.patch")).unwrap_err();
        assert_eq!((e.file.as_str(), e.hunk, e.line), ("lock.c", Some(1), 14));
        assert_eq!(
            e.to_string(),
            "patch \"toy: log resets\": lock.c: hunk #1 (patch line 14): does not apply: \
             context at line 11 of lock.c differs: expected `\ttoy_count = -1;`, found `\ttoy_count = 0;`"
        );
    }

    #[test]
    fn file_existence_errors() {
        let e = Tree::at(PathBuf::from("/nonexistent"))
            .apply(&one_patch("delete.patch"))
            .unwrap_err();
        assert_eq!(e.kind, ApplyErrorKind::Missing);
        assert_eq!(
            e.to_string(),
            "patch \"toy: remove old.c\": old.c (patch line 11): file to patch does not exist"
        );

        let patch = one_patch("new-file.patch");
        let e = apply_to(&patch, &[("include/toy.h", b"x\n")]).unwrap_err();
        assert_eq!(
            (e.kind.clone(), e.hunk, e.line),
            (ApplyErrorKind::AlreadyExists, None, 11)
        );
        assert!(
            e.to_string()
                .ends_with("include/toy.h (patch line 11): new file already exists"),
            "{e}"
        );

        let patch = one_patch("rename.patch");
        let queue = read("tree/queue.c");
        let e = apply_to(&patch, &[("queue.c", &queue), ("workqueue.c", b"")]).unwrap_err();
        assert_eq!(e.kind, ApplyErrorKind::TargetExists);

        let e = apply_to(
            &one_patch("delete.patch"),
            &[(
                "old.c",
                b"/* Obsolete helper, removed by delete.patch. */\n",
            )],
        )
        .unwrap_err();
        assert!(
            matches!(
                e.kind,
                ApplyErrorKind::ContextDiffers {
                    line: 2,
                    found: None,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("context at line 2 of old.c differs: expected `int toy_old(void)`, found the end of the file"), "{e}");

        let mut longer = read("tree/old.c");
        longer.extend_from_slice(b"int more;\n");
        let e = apply_to(&one_patch("delete.patch"), &[("old.c", &longer)]).unwrap_err();
        assert_eq!(e.kind, ApplyErrorKind::DeletedNotEmpty(1));

        let mut failing = |_: &str| Err(io::Error::other("disk on fire"));
        let e = apply(&one_patch("delete.patch"), &mut failing).unwrap_err();
        assert!(
            e.to_string().ends_with("cannot read old.c: disk on fire"),
            "{e}"
        );
    }

    const CHANGE_START: &[u8] = b"--- a/f\n+++ b/f\n@@ -1,3 +1,4 @@\n a\n+new\n b\n c\n";

    #[test]
    fn hunks_at_file_boundaries_stay_there() {
        let patch = parse_text(CHANGE_START);
        // One leading line of context, two trailing: the hunk is at line 1.
        let ok = apply_to(&patch, &[("f", b"a\nb\nc\nd\n")]).unwrap();
        assert_eq!(content(&ok, "f"), Some(&b"a\nnew\nb\nc\nd\n"[..]));
        let e = apply_to(&patch, &[("f", b"x\na\nb\nc\n")]).unwrap_err();
        assert!(
            matches!(e.kind, ApplyErrorKind::ContextDiffers { line: 1, .. }),
            "{e}"
        );

        // Two leading lines, no trailing: the hunk is at the end.
        let patch = parse_text(b"--- a/f\n+++ b/f\n@@ -2,2 +2,3 @@\n b\n c\n+new\n");
        let ok = apply_to(&patch, &[("f", b"a\nb\nc\n")]).unwrap();
        assert_eq!(content(&ok, "f"), Some(&b"a\nb\nc\nnew\n"[..]));
        let e = apply_to(&patch, &[("f", b"a\nb\nc\nd\n")]).unwrap_err();
        assert_eq!(e.kind, ApplyErrorKind::NotAtEnd { line: 3 });
        assert!(
            e.to_string()
                .ends_with("the hunk changes the end of f but the file goes on after line 3"),
            "{e}"
        );
        let e = apply_to(&patch, &[("f", b"a\nb\nc")]).unwrap_err();
        assert_eq!(
            e.kind,
            ApplyErrorKind::NewlineDiffers {
                line: 3,
                patch_expects_newline: true
            }
        );
    }

    #[test]
    fn offsets_carry_over_to_later_hunks() {
        let text = b"--- a/f\n+++ b/f\n@@ -2,3 +2,3 @@\n 1\n-2\n+two\n 3\n@@ -8,3 +8,3 @@\n 7\n-8\n+eight\n 9\n";
        let patch = parse_text(text);
        let file = b"h\nh\n0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
        let ok = apply_to(&patch, &[("f", file)]).unwrap();
        assert_eq!(
            content(&ok, "f"),
            Some(&b"h\nh\n0\n1\ntwo\n3\n4\n5\n6\n7\neight\n9\n10\n"[..])
        );
        let offsets: Vec<(usize, i64)> = ok.offsets.iter().map(|o| (o.hunk, o.offset)).collect();
        assert_eq!(offsets, [(1, 2), (2, 2)]);
        assert_eq!(ok.touched[0].added, [5, 11]);
    }

    #[test]
    fn hunks_never_apply_before_the_previous_one() {
        let text =
            b"--- a/f\n+++ b/f\n@@ -5,3 +5,3 @@\n x\n-y\n+Y\n z\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n";
        let patch = parse_text(text);
        let e = apply_to(&patch, &[("f", b"a\nb\nc\nd\nx\ny\nz\n")]).unwrap_err();
        assert_eq!(
            (e.hunk, e.kind.clone()),
            (Some(2), ApplyErrorKind::Overlaps)
        );
    }

    #[test]
    fn one_patch_may_touch_a_path_twice() {
        let text =
            b"--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-b\n+c\n";
        let patch = parse_text(text);
        let ok = apply_to(&patch, &[("f", b"a\n")]).unwrap();
        assert_eq!(ok.files, [("f".to_string(), Some(b"c\n".to_vec()))]);
    }

    #[test]
    fn files_without_final_newline_and_zero_context() {
        // -U0 insertion after a last line that lacks its newline: the lines
        // must not run together.
        let patch = parse_text(b"--- a/f\n+++ b/f\n@@ -2,0 +3 @@\n+c\n");
        let ok = apply_to(&patch, &[("f", b"a\nb")]).unwrap();
        assert_eq!(content(&ok, "f"), Some(&b"a\nb\nc\n"[..]));
        // Insertion at the very top.
        let patch = parse_text(b"--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+top\n");
        let ok = apply_to(&patch, &[("f", b"a\n")]).unwrap();
        assert_eq!(content(&ok, "f"), Some(&b"top\na\n"[..]));
        // The marker on the old side only: the file gains its newline.
        let patch = one_patch("add-newline.patch");
        let e = apply_to(
            &patch,
            &[("noeol.c", b"int toy_noeol(void)\n{\n\treturn 0;\n}\n")],
        )
        .unwrap_err();
        assert_eq!(
            e.kind,
            ApplyErrorKind::NewlineDiffers {
                line: 4,
                patch_expects_newline: false
            }
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_survive() {
        let mut text = b"--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n caf".to_vec();
        text.extend_from_slice(b"\xe9\n-x\n+y\n");
        let patch = parse_text(&text);
        let ok = apply_to(&patch, &[("f", b"caf\xe9\nx\n")]).unwrap();
        assert_eq!(content(&ok, "f"), Some(&b"caf\xe9\ny\n"[..]));
    }

    /// `WAITCHECK_LINUX_6_12`, or the cache `ci/kernel-source.sh` fills.
    fn linux_6_12() -> Option<PathBuf> {
        let from_env = std::env::var_os("WAITCHECK_LINUX_6_12").map(PathBuf::from);
        let cache = std::env::var_os("WAITCHECK_KERNEL_CACHE")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/waitcheck/kernels"))
            })
            .map(|c| c.join("linux-source-6.12"));
        from_env
            .into_iter()
            .chain(cache)
            .find(|p| p.join("drivers/dax/bus.c").is_file())
    }

    fn seed(name_start: &str) -> Option<Patch> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed/patches");
        let entries = std::fs::read_dir(&dir).ok()?;
        let path = entries.flatten().map(|e| e.path()).find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(name_start))
        })?;
        let bytes = std::fs::read(&path).ok()?;
        let mut s =
            parse_series(&path.display().to_string(), &bytes).unwrap_or_else(|e| panic!("{e}"));
        Some(s.patches.remove(0))
    }

    /// FNV-1a, to compare whole files with what `git apply` produced
    /// without storing kernel code here.
    fn fnv(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    }

    fn line_of(tree: &Tree, path: &str, n: usize) -> String {
        let bytes = tree.get(path).unwrap_or_else(|| panic!("{path} missing"));
        let text = String::from_utf8_lossy(&bytes).into_owned();
        text.lines().nth(n - 1).unwrap_or_default().to_string()
    }

    #[test]
    fn seed_patches_apply_to_linux_6_12_like_git() {
        let (Some(root), Some(p1), Some(p2), Some(fixed)) = (
            linux_6_12(),
            seed("0001-"),
            seed("0002-"),
            seed("fixed-v8-"),
        ) else {
            eprintln!("note: Linux 6.12 tree or seed patches absent; seed application not checked");
            return;
        };
        let mut tree = Tree::at(root.clone());
        for p in [&p1, &p2] {
            let applied = tree.apply(p).unwrap_or_else(|e| panic!("{e}"));
            assert!(applied.offsets.is_empty(), "{:?}", applied.offsets);
        }
        let bus = "drivers/dax/bus.c";
        let hmem = "drivers/dax/hmem/hmem.c";
        // Sizes and hashes of `git apply` 0001 then 0002 on 6.12.
        let want = [
            (bus, 39764, 0xb767_f5ad_8c13_4bca),
            ("drivers/dax/bus.h", 2449, 0x63df_ecbe_5f23_f07d),
            (hmem, 5921, 0x9302_29a4_1c85_15e6),
        ];
        for (path, len, hash) in want {
            let bytes = tree.get(path).unwrap();
            assert_eq!((bytes.len(), fnv(&bytes)), (len, hash), "{path}");
        }
        let lines = [
            (
                bus,
                34,
                "static void hmem_deferred_work(struct work_struct *work)",
            ),
            (bus, 45, "fn(data);"),
            (
                bus,
                48,
                "static DECLARE_WORK(dax_hmem_work, hmem_deferred_work);",
            ),
            (bus, 78, "queue_work(system_long_wq, &dax_hmem_work);"),
            (bus, 84, "flush_work(&dax_hmem_work);"),
            (hmem, 77, "dax_hmem_queue_work();"),
            (hmem, 159, "static void process_defer_work(void *data)"),
            (hmem, 165, "wait_for_device_probe();"),
            (hmem, 181, "static void kill_defer_work(void *data)"),
            (
                hmem,
                189,
                "static int dax_hmem_platform_probe(struct platform_device *pdev)",
            ),
            (
                hmem,
                193,
                "dax_hmem_register_work(process_defer_work, pdev);",
            ),
            (
                hmem,
                197,
                "devm_add_action_or_reset(&pdev->dev, kill_defer_work, pdev);",
            ),
            (
                hmem,
                201,
                "walk_hmem_resources(&pdev->dev, hmem_register_device);",
            ),
        ];
        for (path, n, text) in lines {
            assert!(
                line_of(&tree, path, n).contains(text),
                "{path}:{n}: {}",
                line_of(&tree, path, n)
            );
        }

        // The fix applies instead of the pair.
        let mut tree = Tree::at(root);
        tree.apply(&fixed).unwrap_or_else(|e| panic!("{e}"));
        let want = [
            ("drivers/dax/bus.h", 1687, 0xbe11_5c46_2845_9471),
            ("drivers/dax/hmem/device.c", 2171, 0x0901_11fc_b638_b06e),
            (hmem, 6046, 0xfd1b_8037_d41d_0794),
        ];
        for (path, len, hash) in want {
            let bytes = tree.get(path).unwrap();
            assert_eq!((bytes.len(), fnv(&bytes)), (len, hash), "{path}");
        }
    }
}
