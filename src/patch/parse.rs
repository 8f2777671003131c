//! Parsing: the bytes of one input -> a [`Series`] of [`Patch`]es.
//!
//! In: a name for messages (a file name or `-`) and the raw bytes of
//! - a single `git format-patch` file (mail headers, commit message, `---`,
//!   diffstat, `diff --git` sections, `-- ` signature);
//! - an mbox holding several such messages, split at `From ` lines that start
//!   a message (as `git mailsplit` recognises them), with mboxrd `>From `
//!   quoting undone;
//! - a plain unified diff (`git diff`, `diff -u`, `diff -urN`), optionally
//!   preceded by free text or `git show` headers.
//!
//! Out: the patches in input order with their files and hunks, paths made
//! relative to the tree root (one leading component stripped when both sides
//! carry git's `a/` and `b/` prefixes, like `patch -p1`), or a [`PatchError`]
//! naming the input, the line and the reason. Cover letters and other
//! messages without a diff are kept with `cover_letter` set.
//!
//! Line endings of the input (`\n` or `\r\n`) are not part of any line: a
//! patch that went through a mailer converting to CRLF parses like the
//! original. Quoted-printable and base64 message bodies are decoded.

use std::borrow::Cow;

use super::{FileDiff, Hunk, HunkLine, LineCounts, Patch, PatchError, PatchErrorKind, Series};

/// Parses every patch of one input. `name` is only used in error messages.
pub fn parse_series(name: &str, input: &[u8]) -> Result<Series, PatchError> {
    let parser = Parser { name };
    let lines = split_lines(input);
    let mut patches = Vec::new();
    for message in split_messages(&lines) {
        if let Some(patch) = parser.message(message)? {
            patches.push(patch);
        }
    }
    if patches.iter().all(|p| p.cover_letter) {
        return Err(parser.error(1, PatchErrorKind::NoPatch));
    }
    Ok(Series { patches })
}

/// One input line without its line ending, with its 1-based number in the
/// input. Decoded (quoted-printable, base64) or unquoted (`>From `) lines
/// are owned; all others borrow the input.
#[derive(Debug, Clone)]
struct Line<'a> {
    no: usize,
    text: Cow<'a, [u8]>,
}

impl Line<'_> {
    fn bytes(&self) -> &[u8] {
        &self.text
    }

    fn starts_with(&self, prefix: &[u8]) -> bool {
        self.text.starts_with(prefix)
    }

    fn lossy(&self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }
}

/// Splits at `\n`, dropping one `\r` before it: CRLF and LF inputs give the
/// same lines.
fn split_lines(input: &[u8]) -> Vec<Line<'_>> {
    if input.is_empty() {
        return Vec::new();
    }
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    body.split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| Line {
            no: i + 1,
            text: Cow::Borrowed(l.strip_suffix(b"\r").unwrap_or(l)),
        })
        .collect()
}

fn is_blank(line: &Line) -> bool {
    line.bytes().iter().all(u8::is_ascii_whitespace)
}

/// Cuts an mbox into messages; any other input is one message. A message
/// starts at a `From ` line that looks like an mbox separator and is
/// followed by a mail header, so `From ` in a commit message does not split.
fn split_messages<'a>(lines: &[Line<'a>]) -> Vec<Vec<Line<'a>>> {
    let Some(first) = lines.iter().position(|l| !is_blank(l)) else {
        return Vec::new();
    };
    if !starts_message(lines, first) {
        return vec![lines.to_vec()];
    }
    let mut starts: Vec<usize> = (first..lines.len())
        .filter(|&i| starts_message(lines, i))
        .collect();
    starts.push(lines.len());
    starts
        .windows(2)
        .map(|w| lines[w[0]..w[1]].iter().map(unquote_from).collect())
        .collect()
}

fn starts_message(lines: &[Line], i: usize) -> bool {
    let next_is_header = lines.get(i + 1).is_some_and(|l| header_name(l).is_some());
    lines.get(i).is_some_and(|l| is_from_line(l.bytes())) && next_is_header
}

/// Undoes mboxrd quoting: `>From `, `>>From `, ... lose one `>`.
fn unquote_from<'a>(line: &Line<'a>) -> Line<'a> {
    let text = line.bytes();
    let quoted = text
        .iter()
        .position(|&b| b != b'>')
        .is_some_and(|n| n > 0 && text.get(n..).is_some_and(|rest| rest.starts_with(b"From ")));
    if !quoted {
        return line.clone();
    }
    Line {
        no: line.no,
        text: Cow::Owned(text.get(1..).unwrap_or_default().to_vec()),
    }
}

/// The mbox `From ` separator as `git mailsplit` recognises it:
/// `From <anything> ... HH:MM:SS YYYY`.
fn is_from_line(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let Some(colon) = rest.iter().rposition(|&b| b == b':') else {
        return false;
    };
    let digit = |k: isize| {
        colon
            .checked_add_signed(k)
            .and_then(|i| rest.get(i))
            .is_some_and(u8::is_ascii_digit)
    };
    let year = rest.get(colon + 3..).map(leading_number).unwrap_or(0);
    line.len() >= 20 && digit(-4) && digit(-2) && digit(-1) && digit(1) && digit(2) && year > 90
}

/// The number at the start of `s` after blanks; 0 if there is none.
fn leading_number(s: &[u8]) -> u64 {
    s.iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        })
}

/// `Name` of a `Name: value` mail header line.
fn header_name<'l>(line: &'l Line) -> Option<&'l [u8]> {
    let text = line.bytes();
    let colon = text.iter().position(|&b| b == b':')?;
    let name = text.get(..colon)?;
    let valid = !name.is_empty() && name.iter().all(|&b| b.is_ascii_graphic());
    valid.then_some(name)
}

/// The mail headers this module uses, unfolded and decoded.
#[derive(Debug, Default)]
struct Headers {
    subject: Option<String>,
    from: Option<String>,
    transfer_encoding: Option<String>,
}

impl Headers {
    fn set(&mut self, name: &[u8], value: String) {
        let value = decode_words(value.trim());
        match name.to_ascii_lowercase().as_slice() {
            b"subject" => self.subject = Some(value),
            b"from" => self.from = Some(value),
            b"content-transfer-encoding" => {
                self.transfer_encoding = Some(value.to_ascii_lowercase())
            }
            _ => {}
        }
    }

    fn is_mail(&self) -> bool {
        self.subject.is_some() || self.from.is_some()
    }
}

/// Reads a header block starting at `i`; returns the headers and the index
/// of the first body line. Without `force` the block must end at a blank
/// line and name a sender or subject, so that free text or `Index:` lines
/// are not taken for mail headers.
fn parse_headers(lines: &[Line], mut i: usize, force: bool) -> Option<(Headers, usize)> {
    let mut headers = Headers::default();
    let mut current: Option<(Vec<u8>, String)> = None;
    let mut ended_by_blank = false;
    while let Some(line) = lines.get(i) {
        if is_blank(line) {
            ended_by_blank = true;
            i += 1;
            break;
        }
        let text = line.bytes();
        let continuation = text.first().is_some_and(|&b| b == b' ' || b == b'\t');
        match (&mut current, continuation, header_name(line)) {
            (Some((_, value)), true, _) => {
                value.push(' ');
                value.push_str(String::from_utf8_lossy(text).trim());
            }
            (_, false, Some(name)) => {
                if let Some((n, v)) = current.take() {
                    headers.set(&n, v);
                }
                let value = text.get(name.len() + 1..).unwrap_or_default();
                current = Some((name.to_vec(), String::from_utf8_lossy(value).into_owned()));
            }
            _ => break,
        }
        i += 1;
    }
    if let Some((n, v)) = current {
        headers.set(&n, v);
    }
    (force || (ended_by_blank && headers.is_mail())).then_some((headers, i))
}

/// Decodes RFC 2047 encoded words (`=?UTF-8?q?Jos=C3=A9?=`) as
/// `git format-patch` writes them for non-ASCII names and subjects.
fn decode_words(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    let mut after_word = false;
    while let Some(at) = rest.find("=?") {
        let (before, candidate) = rest.split_at(at);
        match decode_word(candidate) {
            Some((text, len)) => {
                // Blanks between two encoded words are folding, not text.
                if !(after_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = candidate.get(len..).unwrap_or_default();
                after_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = candidate.get(2..).unwrap_or_default();
                after_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One encoded word at the start of `s`: its text and its length in `s`.
fn decode_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let mut parts = inner.splitn(3, '?');
    let charset = parts.next()?;
    let encoding = parts.next()?;
    let rest = parts.next()?;
    let end = rest.find("?=")?;
    let payload = rest.get(..end)?;
    let bytes = match encoding {
        "q" | "Q" => decode_q(payload.as_bytes()),
        "b" | "B" => decode_base64(payload.as_bytes()),
        _ => return None,
    };
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((decode_charset(charset, &bytes), len))
}

fn decode_charset(charset: &str, bytes: &[u8]) -> String {
    let latin1 = ["iso-8859-1", "latin1", "iso-8859-15", "windows-1252"];
    if latin1.iter().any(|c| charset.eq_ignore_ascii_case(c)) {
        bytes.iter().map(|&b| char::from(b)).collect()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// RFC 2047 "Q": quoted-printable where `_` is a space.
fn decode_q(s: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = s
        .iter()
        .map(|&b| if b == b'_' { b' ' } else { b })
        .collect();
    decode_qp_line(&spaced).0
}

/// Quoted-printable for one line: the bytes and whether it ended in a soft
/// line break (`=` at the end: the next line continues this one).
fn decode_qp_line(s: &[u8]) -> (Vec<u8>, bool) {
    let s = trim_end_blanks(s);
    let (s, soft) = match s.strip_suffix(b"=") {
        Some(body) => (body, true),
        None => (s, false),
    };
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let hex = s.get(i + 1..i + 3).and_then(hex_byte);
        match (b, hex) {
            (b'=', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    (out, soft)
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(pair).ok()?;
    u8::from_str_radix(text, 16).ok()
}

fn trim_end_blanks(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |p| p + 1);
    s.get(..end).unwrap_or_default()
}

/// Base64 as in mail: characters outside the alphabet (line breaks,
/// padding) are skipped.
fn decode_base64(s: &[u8]) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        Some(u32::from(v))
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in s.iter().filter_map(|&c| value(c)) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    out
}

/// Decodes the body of a message sent quoted-printable: a decoded line keeps
/// the input number of the line where it starts.
fn decode_qp_body(lines: &[Line]) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, Vec<u8>)> = None;
    for line in lines {
        let (bytes, soft) = decode_qp_line(line.bytes());
        let entry = pending.get_or_insert_with(|| (line.no, Vec::new()));
        entry.1.extend_from_slice(&bytes);
        if !soft {
            if let Some((no, text)) = pending.take() {
                out.push(Line {
                    no,
                    text: Cow::Owned(text),
                });
            }
        }
    }
    if let Some((no, text)) = pending {
        out.push(Line {
            no,
            text: Cow::Owned(text),
        });
    }
    out
}

/// Decodes a base64 body; its lines have no input counterpart, so all of
/// them carry the number of the body's first line.
fn decode_base64_body(lines: &[Line]) -> Vec<Line<'static>> {
    let no = lines.first().map_or(1, |l| l.no);
    let encoded: Vec<u8> = lines.iter().flat_map(|l| l.bytes().to_vec()).collect();
    let decoded = decode_base64(&encoded);
    split_lines(&decoded)
        .into_iter()
        .map(|l| Line {
            no,
            text: Cow::Owned(l.text.into_owned()),
        })
        .collect()
}

/// What a message says about itself before its diff.
#[derive(Debug, Default)]
struct Preamble {
    mail: bool,
    subject: Option<String>,
    author: Option<String>,
    description: String,
}

struct Parser<'n> {
    name: &'n str,
}

impl Parser<'_> {
    fn error(&self, line: usize, kind: PatchErrorKind) -> PatchError {
        PatchError {
            input: self.name.to_string(),
            line,
            kind,
        }
    }

    /// One message (or the whole plain input): `None` when it holds neither
    /// a diff nor mail headers.
    fn message(&self, lines: Vec<Line>) -> Result<Option<Patch>, PatchError> {
        let start = lines.iter().position(|l| !is_blank(l)).unwrap_or(0);
        let start_line = lines.get(start).map_or(1, |l| l.no);
        let (mut pre, body) = read_preamble(&lines, start);
        let files = self.files(&body)?;
        let raw_subject = pre.subject.take().unwrap_or_default();
        let (subject, index, reply) = clean_subject(&raw_subject);
        if files.is_empty() {
            if !pre.mail {
                return Ok(None);
            }
            if let (Some((n, _)), false) = (index, reply) {
                if n > 0 {
                    return Err(self.error(start_line, PatchErrorKind::EmptyPatch(raw_subject)));
                }
            }
        }
        let subject = match (subject.is_empty(), pre.mail) {
            (false, _) => subject,
            (true, false) => self.name.to_string(),
            (true, true) => String::new(),
        };
        Ok(Some(Patch {
            subject,
            index,
            author: pre.author,
            description: pre.description,
            cover_letter: files.is_empty(),
            files,
            start_line,
        }))
    }

    /// Every file diff in a message body; text between them is skipped, as
    /// `git apply` and `patch` do.
    fn files(&self, lines: &[Line]) -> Result<Vec<FileDiff>, PatchError> {
        let mut files = Vec::new();
        let mut i = 0;
        while let Some(line) = lines.get(i) {
            if line.starts_with(b"diff --git ") {
                let (file, next) = self.git_file(lines, i)?;
                files.push(file);
                i = next;
            } else if is_unified_start(lines, i) {
                let (file, next) = self.unified_file(lines, i)?;
                files.push(file);
                i = next;
            } else if let Some(file) = plain_binary(line) {
                files.push(file);
                i += 1;
            } else if line.bytes() == b"-- " && !files.is_empty() {
                break; // mail signature
            } else {
                i += 1;
            }
        }
        Ok(files)
    }

    /// A `diff --git` section: extended headers, then `---`/`+++` and hunks,
    /// or a binary patch, or nothing (mode change, pure rename, empty file).
    fn git_file(&self, lines: &[Line], start: usize) -> Result<(FileDiff, usize), PatchError> {
        let header = &lines[start];
        let names = git_header_names(header.bytes().get(11..).unwrap_or_default());
        let mut ext = Extended::default();
        let mut i = start + 1;
        while let Some(line) = lines.get(i) {
            if !ext.read(line.bytes()) {
                break;
            }
            i += 1;
        }
        let mut file = FileDiff::empty(header.no);
        ext.copy_into(&mut file);
        let mut minus_plus = None;
        match lines.get(i) {
            Some(l) if l.starts_with(b"--- ") => {
                let (names, after) = self.minus_plus(lines, i)?;
                minus_plus = Some(names);
                let (hunks, next) = self.hunks(lines, after)?;
                file.hunks = hunks;
                i = next;
            }
            Some(l) if l.starts_with(b"GIT binary patch") => {
                file.binary = true;
                i = skip_binary(lines, i + 1);
            }
            Some(l) if is_binary_files_line(l.bytes()) => {
                file.binary = true;
                i += 1;
            }
            _ => {}
        }
        if !(file.binary || !file.hunks.is_empty() || ext.says_something()) {
            return Err(self.bare_git_header(lines, start, i));
        }
        let (old, new) = git_paths(names, minus_plus, &ext);
        if old.is_none() && new.is_none() {
            let reason = "cannot tell the file name from the `diff --git` line".to_string();
            return Err(self.error(header.no, PatchErrorKind::MalformedFileHeader(reason)));
        }
        file.old_path = old;
        file.new_path = new;
        Ok((file, i))
    }

    fn bare_git_header(&self, lines: &[Line], start: usize, i: usize) -> PatchError {
        let no = lines.get(start).map_or(1, |l| l.no);
        if i >= lines.len() {
            let what = format!("`diff --git` header at line {no} is not followed by any change");
            return self.error(no, PatchErrorKind::Truncated(what));
        }
        let what = "`diff --git` header without a mode change, rename or hunk".to_string();
        self.error(no, PatchErrorKind::MalformedFileHeader(what))
    }

    /// A plain `---`/`+++` pair with its hunks.
    fn unified_file(&self, lines: &[Line], start: usize) -> Result<(FileDiff, usize), PatchError> {
        let ((old, new), after) = self.minus_plus(lines, start)?;
        let (hunks, next) = self.hunks(lines, after)?;
        let mut file = FileDiff::empty(lines.get(start).map_or(1, |l| l.no));
        let (old_path, new_path) = plain_paths(&old, &new, &hunks);
        file.old_path = old_path;
        file.new_path = new_path;
        file.hunks = hunks;
        Ok((file, next))
    }

    /// Reads `--- old` and `+++ new` at `i`; returns both names and the
    /// index after them.
    fn minus_plus(&self, lines: &[Line], i: usize) -> Result<((Name, Name), usize), PatchError> {
        let minus = &lines[i];
        let Some(plus) = lines.get(i + 1) else {
            let what = "`---` line without the `+++` line after it".to_string();
            return Err(self.error(minus.no, PatchErrorKind::Truncated(what)));
        };
        if !plus.starts_with(b"+++ ") {
            let what = "`---` line not followed by a `+++` line".to_string();
            return Err(self.error(plus.no, PatchErrorKind::MalformedFileHeader(what)));
        }
        let name = |line: &Line| {
            parse_name(line.bytes().get(4..).unwrap_or_default())
                .map_err(|e| self.error(line.no, PatchErrorKind::MalformedFileHeader(e)))
        };
        Ok(((name(minus)?, name(plus)?), i + 2))
    }

    /// The hunks starting at `i`: at least one is required.
    fn hunks(&self, lines: &[Line], mut i: usize) -> Result<(Vec<Hunk>, usize), PatchError> {
        let mut hunks = Vec::new();
        while let Some(line) = lines.get(i) {
            if line.starts_with(b"@@@") {
                return Err(self.error(line.no, PatchErrorKind::CombinedDiff));
            }
            if !line.starts_with(b"@@") {
                break;
            }
            let (hunk, next) = self.hunk(lines, i)?;
            hunks.push(hunk);
            i = next;
        }
        if hunks.is_empty() {
            return Err(self.missing_hunk(lines, i));
        }
        Ok((hunks, i))
    }

    fn missing_hunk(&self, lines: &[Line], i: usize) -> PatchError {
        match lines.get(i) {
            None => {
                let no = lines.last().map_or(1, |l| l.no);
                let what = "file header without any hunk".to_string();
                self.error(no, PatchErrorKind::Truncated(what))
            }
            Some(line) => {
                let what = format!(
                    "expected a `@@` hunk header, found `{}`",
                    clip(&line.lossy())
                );
                self.error(line.no, PatchErrorKind::MalformedFileHeader(what))
            }
        }
    }

    /// One hunk: its header at `start`, then exactly as many old and new
    /// lines as the header announces.
    fn hunk(&self, lines: &[Line], start: usize) -> Result<(Hunk, usize), PatchError> {
        let head = &lines[start];
        let header = head.lossy();
        let (old_start, old_len, new_start, new_len) =
            parse_hunk_header(head.bytes()).map_err(|reason| {
                let header = clip(&header);
                self.error(
                    head.no,
                    PatchErrorKind::MalformedHunkHeader { header, reason },
                )
            })?;
        let mut body = HunkBody::new(old_len, new_len);
        let mut i = start + 1;
        while !body.complete() {
            let Some(line) = lines.get(i) else {
                return Err(self.hunk_truncated(head, &body));
            };
            match body.take(line, lines.get(i + 1)) {
                Take::Taken => i += 1,
                Take::Stop => return Err(self.hunk_short(head, &body, line)),
                Take::Excess => return Err(self.hunk_long(head, &body, line.no)),
            }
        }
        // A no-newline marker may follow the last line.
        while lines.get(i).is_some_and(|l| l.starts_with(b"\\")) {
            body.mark_no_newline();
            i += 1;
        }
        if let Some(line) = lines.get(i).filter(|l| continues_hunk(l.bytes())) {
            return Err(self.hunk_long(head, &body, line.no));
        }
        let hunk = Hunk {
            old_start,
            old_len,
            new_start,
            new_len,
            lines: body.lines,
            old_missing_newline: body.old_missing_newline,
            new_missing_newline: body.new_missing_newline,
            line: head.no,
        };
        Ok((hunk, i))
    }

    fn hunk_truncated(&self, head: &Line, body: &HunkBody) -> PatchError {
        let what = format!(
            "hunk `{}` announces {}, found {} before the end of the input",
            clip(&head.lossy()),
            body.expected,
            body.found()
        );
        self.error(head.no, PatchErrorKind::Truncated(what))
    }

    fn hunk_short(&self, head: &Line, body: &HunkBody, stop: &Line) -> PatchError {
        let kind = PatchErrorKind::HunkTooShort {
            header: clip(&head.lossy()),
            expected: body.expected,
            found: body.found(),
            stop: format!("line {} (`{}`)", stop.no, clip(&stop.lossy())),
        };
        self.error(head.no, kind)
    }

    fn hunk_long(&self, head: &Line, body: &HunkBody, extra_line: usize) -> PatchError {
        let kind = PatchErrorKind::HunkTooLong {
            header: clip(&head.lossy()),
            expected: body.expected,
            extra_line,
        };
        self.error(head.no, kind)
    }
}

/// Reads everything before the diff: mail or `git show` headers, in-body
/// headers and the commit message. Returns it with the body lines, which
/// are scanned for diffs (decoded if the mail says they are encoded).
fn read_preamble<'a>(lines: &[Line<'a>], start: usize) -> (Preamble, Vec<Line<'a>>) {
    let mut pre = Preamble::default();
    let mut i = start;
    let from_line = lines.get(i).is_some_and(|l| is_from_line(l.bytes()));
    if from_line {
        i += 1;
    }
    let mut encoding = None;
    if let Some((headers, next)) = parse_headers(lines, i, from_line) {
        pre.mail = true;
        pre.subject = headers.subject;
        pre.author = headers.from;
        encoding = headers.transfer_encoding;
        i = next;
    } else if let Some(next) = read_git_show_header(lines, i, &mut pre) {
        i = next;
    }
    let rest = lines.get(i..).unwrap_or_default();
    let body: Vec<Line<'a>> = match encoding.as_deref() {
        Some("quoted-printable") => decode_qp_body(rest),
        Some("base64") => decode_base64_body(rest),
        _ => rest.to_vec(),
    };
    let text_start = read_in_body_headers(&body, &mut pre);
    pre.description = description(body.get(text_start..).unwrap_or_default());
    if pre.subject.is_none() && !pre.mail {
        pre.subject = pre.description.lines().next().map(str::to_string);
    }
    (pre, body)
}

/// `git show`/`git log -p` output: `commit <sha>`, `Author:`, `Date:`.
fn read_git_show_header(lines: &[Line], i: usize, pre: &mut Preamble) -> Option<usize> {
    let first = lines.get(i)?;
    let sha = first.bytes().strip_prefix(b"commit ")?;
    if !sha.first().is_some_and(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut j = i + 1;
    while let Some(line) = lines.get(j).filter(|l| !is_blank(l)) {
        if let Some(author) = line.bytes().strip_prefix(b"Author:") {
            pre.author = Some(String::from_utf8_lossy(author).trim().to_string());
        }
        j += 1;
    }
    Some(j)
}

/// `From:`/`Subject:`/`Date:` at the top of the body override the mail's
/// (`git am` does the same; used when the sender is not the author).
fn read_in_body_headers(body: &[Line], pre: &mut Preamble) -> usize {
    let Some(first) = body.iter().position(|l| !is_blank(l)) else {
        return 0;
    };
    let known = |l: &Line| {
        header_name(l).is_some_and(|n| {
            let n = n.to_ascii_lowercase();
            n == b"from" || n == b"subject" || n == b"date"
        })
    };
    if !pre.mail || !body.get(first).is_some_and(known) {
        return 0;
    }
    match parse_headers(body, first, false) {
        Some((headers, next)) => {
            pre.subject = headers.subject.or(pre.subject.take());
            pre.author = headers.from.or(pre.author.take());
            next
        }
        None => 0,
    }
}

/// The commit message: text up to `---` or the first diff, with `git show`'s
/// four-space indent removed.
fn description(lines: &[Line]) -> String {
    let mut out: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let text = line.bytes();
        if trim_end_blanks(text) == b"---"
            || line.starts_with(b"diff ")
            || line.starts_with(b"Index: ")
            || is_unified_start(lines, i)
        {
            break;
        }
        let text = text.strip_prefix(b"    ").unwrap_or(text);
        out.push(String::from_utf8_lossy(text).into_owned());
    }
    out.join("\n").trim().to_string()
}

/// Strips `Re:` and leading `[...]` tags from a subject; returns the rest,
/// the `n/m` numbering found in a tag and whether it is a reply.
fn clean_subject(raw: &str) -> (String, Option<(u32, u32)>, bool) {
    let mut rest = raw.trim();
    let mut index = None;
    let mut reply = false;
    loop {
        if let Some(r) = strip_prefix_ci(rest, "re:") {
            reply = true;
            rest = r.trim_start();
        } else if let Some(tag_end) = rest.strip_prefix('[').and_then(|r| r.find(']')) {
            let tag = rest.get(1..tag_end + 1).unwrap_or_default();
            index = index.or_else(|| tag.split_whitespace().find_map(parse_numbering));
            rest = rest.get(tag_end + 2..).unwrap_or_default().trim_start();
        } else {
            break;
        }
    }
    (rest.to_string(), index, reply)
}

fn strip_prefix_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// `3/7` -> `(3, 7)`.
fn parse_numbering(token: &str) -> Option<(u32, u32)> {
    let (n, m) = token.split_once('/')?;
    Some((n.parse().ok()?, m.parse().ok()?))
}

/// `--- x` followed by `+++ y` and a hunk header: a unified file diff.
/// Requiring the `@@` keeps prose like `--- a note` from starting a diff.
fn is_unified_start(lines: &[Line], i: usize) -> bool {
    let minus = lines.get(i).is_some_and(|l| l.starts_with(b"--- "));
    let plus = lines.get(i + 1).is_some_and(|l| l.starts_with(b"+++ "));
    // At the end of the input the pair is taken as a (truncated) diff so
    // that the error says so instead of "no patch found".
    let hunk = lines.get(i + 2).map_or(true, |l| l.starts_with(b"@@"));
    minus && plus && hunk
}

/// `Binary files x and y differ` outside a `diff --git` section (`diff -r`).
fn plain_binary(line: &Line) -> Option<FileDiff> {
    let text = line.bytes();
    if !is_binary_files_line(text) {
        return None;
    }
    let inner = text.get(13..text.len().checked_sub(7)?)?;
    let inner = String::from_utf8_lossy(inner);
    let (old, new) = inner.split_once(" and ")?;
    let name = |s: &str| Name {
        path: (s != "/dev/null").then(|| s.to_string()),
        epoch: false,
    };
    let (old_path, new_path) = plain_paths(&name(old), &name(new), &[]);
    let mut file = FileDiff::empty(line.no);
    file.old_path = old_path;
    file.new_path = new_path;
    file.binary = true;
    Some(file)
}

fn is_binary_files_line(text: &[u8]) -> bool {
    text.starts_with(b"Binary files ") && text.ends_with(b" differ")
}

/// Skips the base85 blocks of a `GIT binary patch` up to the next file or
/// the signature; base85 lines never start with `diff ` or `-- `.
fn skip_binary(lines: &[Line], mut i: usize) -> usize {
    while let Some(line) = lines.get(i) {
        if line.starts_with(b"diff ") || line.bytes() == b"-- " {
            break;
        }
        i += 1;
    }
    i
}

/// The extended header lines of a `diff --git` section.
#[derive(Debug, Default)]
struct Extended {
    old_mode: Option<u32>,
    new_mode: Option<u32>,
    new_file: bool,
    deleted_file: bool,
    rename_from: Option<String>,
    rename_to: Option<String>,
    copy_from: Option<String>,
    copy_to: Option<String>,
    similarity: Option<u32>,
}

impl Extended {
    /// Takes in one line; false when it is not an extended header line.
    fn read(&mut self, text: &[u8]) -> bool {
        let value = |prefix: &[u8]| text.strip_prefix(prefix);
        let path = |v: &[u8]| Some(unquote_path(v));
        if let Some(v) = value(b"old mode ") {
            self.old_mode = parse_mode(v);
        } else if let Some(v) = value(b"new mode ") {
            self.new_mode = parse_mode(v);
        } else if let Some(v) = value(b"deleted file mode ") {
            self.deleted_file = true;
            self.old_mode = parse_mode(v);
        } else if let Some(v) = value(b"new file mode ") {
            self.new_file = true;
            self.new_mode = parse_mode(v);
        } else if let Some(v) = value(b"rename from ").or(value(b"rename old ")) {
            self.rename_from = path(v);
        } else if let Some(v) = value(b"rename to ").or(value(b"rename new ")) {
            self.rename_to = path(v);
        } else if let Some(v) = value(b"copy from ") {
            self.copy_from = path(v);
        } else if let Some(v) = value(b"copy to ") {
            self.copy_to = path(v);
        } else if let Some(v) = value(b"similarity index ") {
            self.similarity = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.trim().trim_end_matches('%').parse().ok());
        } else {
            return value(b"index ").is_some() || value(b"dissimilarity index ").is_some();
        }
        true
    }

    /// Whether the section means something even without hunks.
    fn says_something(&self) -> bool {
        self.new_file
            || self.deleted_file
            || self.rename_to.is_some()
            || self.copy_to.is_some()
            || (self.old_mode.is_some() && self.new_mode.is_some())
    }

    /// Copies modes and rename/copy facts into the file diff.
    fn copy_into(&self, file: &mut FileDiff) {
        file.old_mode = self.old_mode;
        file.new_mode = self.new_mode;
        file.rename = self.rename_from.is_some() || self.rename_to.is_some();
        file.copy = self.copy_from.is_some() || self.copy_to.is_some();
        file.similarity = self.similarity;
    }
}

fn parse_mode(v: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(v).ok()?;
    u32::from_str_radix(text.trim(), 8).ok()
}

impl FileDiff {
    fn empty(line: usize) -> FileDiff {
        FileDiff {
            old_path: None,
            new_path: None,
            hunks: Vec::new(),
            binary: false,
            rename: false,
            copy: false,
            similarity: None,
            old_mode: None,
            new_mode: None,
            line,
        }
    }
}

/// A file name from a `---`/`+++` line: `None` for `/dev/null`; `epoch`
/// when GNU `diff -N` dated it 1970 to say the file does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Name {
    path: Option<String>,
    epoch: bool,
}

/// Parses the name after `--- `/`+++ `: quoted C-style, or up to a tab
/// (GNU diff puts the timestamp after one; git adds one after names with
/// spaces).
fn parse_name(raw: &[u8]) -> Result<Name, String> {
    let (path, stamp): (String, &[u8]) = if raw.starts_with(b"\"") {
        let (bytes, rest) =
            unquote(raw).ok_or_else(|| "unterminated quoted file name".to_string())?;
        (String::from_utf8_lossy(&bytes).into_owned(), rest)
    } else {
        let tab = raw.iter().position(|&b| b == b'\t');
        let (name, stamp) = match tab {
            Some(t) => (
                raw.get(..t).unwrap_or(raw),
                raw.get(t + 1..).unwrap_or_default(),
            ),
            None => split_space_timestamp(trim_end_blanks(raw)),
        };
        (String::from_utf8_lossy(name).into_owned(), stamp)
    };
    if path.is_empty() {
        return Err("empty file name".to_string());
    }
    let stamp = String::from_utf8_lossy(stamp);
    let stamp = stamp.trim();
    Ok(Name {
        epoch: stamp.starts_with("1970-01-01") || stamp.starts_with("1969-12-31"),
        path: (path != "/dev/null").then_some(path),
    })
}

/// `name 2024-03-01 10:00:00 +0000` (a timestamp after a space instead of a
/// tab) -> (`name`, timestamp).
fn split_space_timestamp(raw: &[u8]) -> (&[u8], &[u8]) {
    let is_date = |w: &[u8]| {
        w.len() >= 11
            && w.first() == Some(&b' ')
            && w.get(1..5)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            && w.get(5) == Some(&b'-')
            && w.get(8) == Some(&b'-')
    };
    let at = (0..raw.len()).find(|&i| raw.get(i..).is_some_and(is_date));
    match at {
        Some(i) => (
            raw.get(..i).unwrap_or(raw),
            raw.get(i + 1..).unwrap_or_default(),
        ),
        None => (raw, &[]),
    }
}

/// A path in `rename from`/`copy to` lines: quoted or as is.
fn unquote_path(raw: &[u8]) -> String {
    match unquote(raw) {
        Some((bytes, _)) => String::from_utf8_lossy(&bytes).into_owned(),
        None => String::from_utf8_lossy(trim_end_blanks(raw)).into_owned(),
    }
}

/// Git's C-style quoting: `"a/t\303\253st.c"`. Returns the bytes and what
/// follows the closing quote; `None` if `s` is not a complete quoted string.
fn unquote(s: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut out = Vec::new();
    let mut i = 1;
    if s.first() != Some(&b'"') {
        return None;
    }
    loop {
        match *s.get(i)? {
            b'"' => return Some((out, s.get(i + 1..).unwrap_or_default())),
            b'\\' => {
                let (byte, used) = unescape(s.get(i + 1..)?)?;
                out.push(byte);
                i += 1 + used;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// One escape after a backslash: the byte and how many bytes it used.
fn unescape(s: &[u8]) -> Option<(u8, usize)> {
    let simple = match *s.first()? {
        b'n' => b'\n',
        b't' => b'\t',
        b'r' => b'\r',
        b'a' => 0x07,
        b'b' => 0x08,
        b'f' => 0x0c,
        b'v' => 0x0b,
        b'0'..=b'7' => {
            let digits = s.iter().take(3).take_while(|b| (b'0'..=b'7').contains(*b));
            let (value, n) =
                digits.fold((0u32, 0), |(v, n), d| (v * 8 + u32::from(d - b'0'), n + 1));
            return Some((u8::try_from(value).ok()?, n));
        }
        other => other,
    };
    Some((simple, 1))
}

/// The two names of `diff --git a/x b/x`. Unquoted names may contain
/// spaces, so the line is split where both halves name the same file, as
/// git does; a rename with spaces is left to the `rename` lines.
fn git_header_names(rest: &[u8]) -> Option<(String, String)> {
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if rest.starts_with(b"\"") {
        let (old, after) = unquote(rest)?;
        let after = after.strip_prefix(b" ")?;
        return Some((lossy(&old), unquote_path(after)));
    }
    if let Some(q) = rest.windows(2).position(|w| w == b" \"") {
        let (new, _) = unquote(rest.get(q + 1..)?)?;
        return Some((lossy(rest.get(..q)?), lossy(&new)));
    }
    let spaces: Vec<usize> = (0..rest.len())
        .filter(|&i| rest.get(i) == Some(&b' '))
        .collect();
    let same = |sp: usize| {
        let (left, right) = (
            rest.get(..sp).unwrap_or_default(),
            rest.get(sp + 1..).unwrap_or_default(),
        );
        left == right
            || (strip_component(left).is_some() && strip_component(left) == strip_component(right))
    };
    let split = spaces.iter().copied().find(|&sp| same(sp));
    let split = split.or(if spaces.len() == 1 {
        spaces.first().copied()
    } else {
        None
    })?;
    Some((lossy(rest.get(..split)?), lossy(rest.get(split + 1..)?)))
}

/// `a/dir/x.c` -> `dir/x.c`.
fn strip_component(path: &[u8]) -> Option<&[u8]> {
    let slash = path.iter().position(|&b| b == b'/')?;
    path.get(slash + 1..)
}

/// Final paths of a `diff --git` section: `rename`/`copy` lines win, then
/// `---`/`+++`, then the `diff --git` line; `a/`/`b/` prefixes are stripped
/// when both sides carry them.
fn git_paths(
    header: Option<(String, String)>,
    minus_plus: Option<(Name, Name)>,
    ext: &Extended,
) -> (Option<String>, Option<String>) {
    let (header_old, header_new) = header.unzip();
    let dev_null = |n: &Option<(Name, Name)>, plus: bool| {
        n.as_ref().is_some_and(|(m, p)| {
            if plus {
                p.path.is_none()
            } else {
                m.path.is_none()
            }
        })
    };
    let new_file = ext.new_file || dev_null(&minus_plus, false);
    let deleted = ext.deleted_file || dev_null(&minus_plus, true);
    let (minus, plus) = minus_plus
        .map(|(m, p)| (m.path, p.path))
        .unwrap_or((header_old, header_new));
    let (old, new) = strip_git_prefixes(minus, plus);
    let old = ext.rename_from.clone().or(ext.copy_from.clone()).or(old);
    let new = ext.rename_to.clone().or(ext.copy_to.clone()).or(new);
    match (new_file, deleted) {
        (true, _) => (None, new.or(old)),
        (_, true) => (old.or(new), None),
        _ => (old.clone().or(new.clone()), new.or(old)),
    }
}

/// Drops git's `a/` and `b/` when both sides (those that exist) carry them.
fn strip_git_prefixes(
    old: Option<String>,
    new: Option<String>,
) -> (Option<String>, Option<String>) {
    let git_style = (old.is_some() || new.is_some())
        && old.as_deref().map_or(true, |o| o.starts_with("a/"))
        && new.as_deref().map_or(true, |n| n.starts_with("b/"));
    if !git_style {
        return (old, new);
    }
    let strip = |p: Option<String>| p.map(|p| p.get(2..).unwrap_or_default().to_string());
    (strip(old), strip(new))
}

/// Paths of a plain unified diff, which names one file on two sides:
/// strip `a/`/`b/` (or the differing top directories of `diff -urN
/// linux.orig linux`), then pick one name the way GNU patch breaks ties
/// (fewest components, then shortest base name, then shortest). Sides dated
/// 1970 by `diff -N` do not exist.
fn plain_paths(old: &Name, new: &Name, hunks: &[Hunk]) -> (Option<String>, Option<String>) {
    let (mut o, mut n) = strip_git_prefixes(old.path.clone(), new.path.clone());
    if o == old.path && n == new.path {
        if let (Some(a), Some(b)) = (&o, &n) {
            let (sa, sb) = (strip_component(a.as_bytes()), strip_component(b.as_bytes()));
            let top = |p: &str| p.split('/').next().map(str::to_string);
            if sa.is_some() && sb.is_some() && top(a) != top(b) {
                o = sa.map(|s| String::from_utf8_lossy(s).into_owned());
                n = sb.map(|s| String::from_utf8_lossy(s).into_owned());
            }
        }
    }
    let chosen = match (&o, &n) {
        (Some(a), Some(b)) => Some(gnu_preferred(a, b).to_string()),
        _ => None,
    };
    if let Some(c) = chosen {
        o = Some(c.clone());
        n = Some(c);
    }
    let only_inserts =
        !hunks.is_empty() && hunks.iter().all(|h| h.old_start == 0 && h.old_len == 0);
    let only_deletes =
        !hunks.is_empty() && hunks.iter().all(|h| h.new_start == 0 && h.new_len == 0);
    if old.epoch && only_inserts {
        o = None;
    }
    if new.epoch && only_deletes {
        n = None;
    }
    (o, n)
}

fn gnu_preferred<'p>(a: &'p str, b: &'p str) -> &'p str {
    let key = |p: &str| {
        let base = p.rsplit('/').next().unwrap_or(p).len();
        (p.matches('/').count(), base, p.len())
    };
    if key(b) < key(a) {
        b
    } else {
        a
    }
}

/// `@@ -l[,s] +l[,s] @@[ text]` -> (old_start, old_len, new_start, new_len).
fn parse_hunk_header(text: &[u8]) -> Result<(u32, u32, u32, u32), String> {
    let expected = "expected `@@ -start[,count] +start[,count] @@`";
    let rest = text.strip_prefix(b"@@ -").ok_or(expected)?;
    let (old_start, old_len, rest) = parse_range(rest).ok_or(expected)?;
    let rest = rest.strip_prefix(b" +").ok_or(expected)?;
    let (new_start, new_len, rest) = parse_range(rest).ok_or(expected)?;
    if !rest.starts_with(b" @@") {
        return Err(expected.to_string());
    }
    if (old_start == 0 && old_len != 0) || (new_start == 0 && new_len != 0) {
        return Err("a range that starts at line 0 must be empty".to_string());
    }
    Ok((old_start, old_len, new_start, new_len))
}

/// `start[,count]` at the start of `s`; a missing count means 1.
fn parse_range(s: &[u8]) -> Option<(u32, u32, &[u8])> {
    let (start, rest) = parse_u32(s)?;
    match rest.strip_prefix(b",") {
        Some(r) => {
            let (len, rest) = parse_u32(r)?;
            Some((start, len, rest))
        }
        None => Some((start, 1, rest)),
    }
}

fn parse_u32(s: &[u8]) -> Option<(u32, &[u8])> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let number = std::str::from_utf8(s.get(..digits)?).ok()?.parse().ok()?;
    Some((number, s.get(digits..)?))
}

/// Whether a line right after a complete hunk still looks like hunk body.
/// `--` lines are mail signatures, MIME boundaries or the next `---`.
fn continues_hunk(text: &[u8]) -> bool {
    match text.first() {
        Some(b'+') | Some(b' ') => true,
        Some(b'-') => !text.starts_with(b"--"),
        _ => false,
    }
}

/// Outcome of offering one line to a [`HunkBody`].
enum Take {
    Taken,
    /// Not a hunk line: the body ended early.
    Stop,
    /// A hunk line of a side whose count is exhausted.
    Excess,
}

/// A hunk body being read, with the counts still expected.
struct HunkBody {
    expected: LineCounts,
    old_left: u32,
    new_left: u32,
    lines: Vec<HunkLine>,
    old_missing_newline: bool,
    new_missing_newline: bool,
}

impl HunkBody {
    fn new(old: u32, new: u32) -> HunkBody {
        HunkBody {
            expected: LineCounts { old, new },
            old_left: old,
            new_left: new,
            lines: Vec::new(),
            old_missing_newline: false,
            new_missing_newline: false,
        }
    }

    fn complete(&self) -> bool {
        self.old_left == 0 && self.new_left == 0
    }

    fn found(&self) -> LineCounts {
        LineCounts {
            old: self.expected.old - self.old_left,
            new: self.expected.new - self.new_left,
        }
    }

    fn take(&mut self, line: &Line, next: Option<&Line>) -> Take {
        let text = line.bytes();
        let content = || String::from_utf8_lossy(text.get(1..).unwrap_or_default()).into_owned();
        let (old, new) = (self.old_left > 0, self.new_left > 0);
        let (entry, ok) = match text.first() {
            // Mailers strip the blank of an empty context line.
            None => (HunkLine::Context(String::new()), old && new),
            Some(b' ') => (HunkLine::Context(content()), old && new),
            Some(b'-') if text == b"-- " && !next.is_some_and(|n| is_body_line(n.bytes())) => {
                return Take::Stop; // the signature after a short hunk
            }
            Some(b'-') => (HunkLine::Remove(content()), old),
            Some(b'+') => (HunkLine::Add(content()), new),
            Some(b'\\') => {
                self.mark_no_newline();
                return Take::Taken;
            }
            Some(_) => return Take::Stop,
        };
        if !ok {
            return Take::Excess;
        }
        match entry {
            HunkLine::Context(_) => {
                self.old_left -= 1;
                self.new_left -= 1;
            }
            HunkLine::Remove(_) => self.old_left -= 1,
            HunkLine::Add(_) => self.new_left -= 1,
        }
        self.lines.push(entry);
        Take::Taken
    }

    /// `\ No newline at end of file` refers to the line before it.
    fn mark_no_newline(&mut self) {
        match self.lines.last() {
            Some(HunkLine::Context(_)) => {
                self.old_missing_newline = true;
                self.new_missing_newline = true;
            }
            Some(HunkLine::Remove(_)) => self.old_missing_newline = true,
            Some(HunkLine::Add(_)) => self.new_missing_newline = true,
            None => {}
        }
    }
}

fn is_body_line(text: &[u8]) -> bool {
    matches!(text.first(), Some(b' ' | b'+' | b'-' | b'\\'))
}

/// Shortens a line quoted in a message.
pub(super) fn clip(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}...", s.get(..at).unwrap_or(s)),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{all_patches, read};
    use super::*;

    fn parse(name: &str) -> Series {
        parse_series(name, &read(name)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse_str(text: &str) -> Result<Series, PatchError> {
        parse_series("t.patch", text.as_bytes())
    }

    fn only_file(series: &Series) -> &FileDiff {
        assert_eq!(series.patches.len(), 1, "{series:?}");
        assert_eq!(series.patches[0].files.len(), 1, "{series:?}");
        &series.patches[0].files[0]
    }

    fn paths(f: &FileDiff) -> (Option<&str>, Option<&str>) {
        (f.old_path.as_deref(), f.new_path.as_deref())
    }

    fn ranges(f: &FileDiff) -> Vec<(u32, u32, u32, u32, usize)> {
        let r = |h: &Hunk| (h.old_start, h.old_len, h.new_start, h.new_len, h.line);
        f.hunks.iter().map(r).collect()
    }

    #[test]
    fn mbox_series_with_cover_letter() {
        let s = parse("series.mbox");
        let p = &s.patches;
        assert_eq!(p.len(), 4);
        assert!(p[0].cover_letter && p[0].files.is_empty());
        assert_eq!(p[0].index, Some((0, 3)));
        assert_eq!(p[0].subject, "toy: stop work under the toy lock");
        assert_eq!(s.changes().count(), 3);
        let starts: Vec<usize> = p.iter().map(|p| p.start_line).collect();
        assert_eq!(starts, [1, 21, 58, 104]);
        let idx: Vec<_> = p.iter().map(|p| p.index).collect();
        assert_eq!(
            idx,
            [Some((0, 3)), Some((1, 3)), Some((2, 3)), Some((3, 3))]
        );
    }

    #[test]
    fn folded_subject_author_and_from_quoting() {
        let s = parse("series.mbox");
        let p = &s.patches[1];
        assert_eq!(
            p.subject,
            "toy: stop the queued work when removing the device while holding the toy lock so that nothing runs afterwards"
        );
        assert_eq!(p.author.as_deref(), Some("Ada Tester <ada@example.org>"));
        // `>From the start` in the mbox is the commit message's `From the start`,
        // and it neither splits the message nor stays quoted.
        assert!(
            p.description.starts_with("From the start, removal"),
            "{}",
            p.description
        );
        assert!(p
            .description
            .ends_with("Signed-off-by: Ada Tester <ada@example.org>"));
        assert_eq!(p.title(), format!("[PATCH 1/3] {}", p.subject));
    }

    #[test]
    fn mbox_files_and_hunks() {
        let s = parse("series.mbox");
        let f = &s.patches[1].files;
        assert_eq!(f.len(), 1);
        assert_eq!(paths(&f[0]), (Some("lock.c"), Some("lock.c")));
        assert_eq!(f[0].line, 35);
        assert_eq!(ranges(&f[0]), [(3, 6, 3, 8, 39), (23, 5, 25, 6, 48)]);
        let h = &f[0].hunks[1];
        assert_eq!(
            h.lines,
            [
                HunkLine::Context("{".into()),
                HunkLine::Context("\tmutex_lock(&toy_lock);".into()),
                HunkLine::Context("\ttoy_reset();".into()),
                HunkLine::Add("\ttoy_stop();".into()),
                HunkLine::Context("\tmutex_unlock(&toy_lock);".into()),
                HunkLine::Context("}".into()),
            ]
        );
        let two = &s.patches[2].files;
        let names: Vec<_> = two.iter().map(FileDiff::path).collect();
        assert_eq!(names, ["lock.c", "queue.c"]);
        assert_eq!(s.patches[3].files.len(), 1);
    }

    #[test]
    fn rename_copy_modes() {
        let f = parse("rename.patch");
        let f = only_file(&f);
        assert_eq!(paths(f), (Some("queue.c"), Some("workqueue.c")));
        assert!(f.rename && !f.copy);
        assert_eq!(f.similarity, Some(83));
        assert_eq!(ranges(f), [(3, 7, 3, 7, 18)]);

        let copy = "diff --git a/x.c b/y.c\nsimilarity index 100%\ncopy from x.c\ncopy to y.c\n";
        let s = parse_str(copy).unwrap();
        let f = only_file(&s);
        assert_eq!(paths(f), (Some("x.c"), Some("y.c")));
        assert!(f.copy && !f.rename && f.hunks.is_empty());

        let s = parse("mode-only.patch");
        let f = only_file(&s);
        assert_eq!(paths(f), (Some("one.c"), Some("one.c")));
        assert_eq!((f.old_mode, f.new_mode), (Some(0o100644), Some(0o100755)));
        assert!(f.hunks.is_empty());
    }

    #[test]
    fn new_and_deleted_files() {
        let s = parse("new-file.patch");
        let f = only_file(&s);
        assert_eq!(paths(f), (None, Some("include/toy.h")));
        assert_eq!(f.new_mode, Some(0o100644));
        assert_eq!(ranges(f), [(0, 0, 1, 8, 16)]);
        assert_eq!(f.hunks[0].new_lines().count(), 8);

        let s = parse("delete.patch");
        let f = only_file(&s);
        assert_eq!(paths(f), (Some("old.c"), None));
        assert_eq!(f.old_mode, Some(0o100644));
        assert_eq!(f.hunks[0].old_lines().count(), 5);

        // An empty new file has no hunk at all.
        let empty = "diff --git a/e.c b/e.c\nnew file mode 100644\nindex 0000000..e69de29\n";
        let s = parse_str(empty).unwrap();
        assert_eq!(paths(only_file(&s)), (None, Some("e.c")));
    }

    #[test]
    fn omitted_lengths_and_quoted_paths() {
        let s = parse("omitted-len.patch");
        assert_eq!(ranges(only_file(&s)), [(1, 1, 1, 1, 14)]);

        let s = parse("quoted.patch");
        assert_eq!(
            paths(only_file(&s)),
            (Some("with space.c"), Some("with space.c"))
        );

        // git quotes non-ASCII names with octal escapes.
        let text = "diff --git \"a/t\\303\\253st.c\" \"b/t\\303\\253st.c\"\n--- \"a/t\\303\\253st.c\"\n+++ \"b/t\\303\\253st.c\"\n@@ -1 +1,2 @@\n x\n+y\n";
        let s = parse_str(text).unwrap();
        assert_eq!(paths(only_file(&s)), (Some("tëst.c"), Some("tëst.c")));

        // Unquoted names with spaces, git adding a tab after them.
        let text = "diff --git a/my file.c b/my file.c\n--- a/my file.c\t\n+++ b/my file.c\t\n@@ -1 +1 @@\n-a\n+b\n";
        let s = parse_str(text).unwrap();
        assert_eq!(paths(only_file(&s)), (Some("my file.c"), Some("my file.c")));
    }

    #[test]
    fn no_newline_markers() {
        let s = parse("no-newline.patch");
        let h = &only_file(&s).hunks[0];
        assert!(h.old_missing_newline && h.new_missing_newline);
        assert_eq!(h.lines.last(), Some(&HunkLine::Context("}".into())));

        let s = parse("add-newline.patch");
        let h = &only_file(&s).hunks[0];
        assert!(h.old_missing_newline && !h.new_missing_newline);
        assert_eq!(
            h.new_lines().collect::<Vec<_>>(),
            [
                "int toy_noeol(void)",
                "{",
                "\treturn 0;",
                "}",
                "",
                "int toy_more;"
            ]
        );
    }

    #[test]
    fn crlf_input_parses_like_lf() {
        let crlf = parse("crlf-mail.patch");
        let lf = parse("series.mbox");
        let (a, b) = (&crlf.patches[0], &lf.patches[1]);
        assert_eq!(a.subject, b.subject);
        assert_eq!(a.files[0].hunks[0].lines, b.files[0].hunks[0].lines);
        assert_eq!(a.files[0].hunks[1].lines, b.files[0].hunks[1].lines);
        // A CRLF file diffed by git: its lines carry `\r`, which is dropped.
        let s = parse("crlf-file.patch");
        let f = only_file(&s);
        assert!(f.hunks[0]
            .lines
            .iter()
            .all(|l| !format!("{l:?}").contains('\r')));
    }

    #[test]
    fn binary_patches_are_flagged() {
        let s = parse("binary.patch");
        let f = only_file(&s);
        assert!(f.binary && f.hunks.is_empty());
        assert_eq!(paths(f), (Some("blob.bin"), Some("blob.bin")));

        let text = "diff -r a/x b/x\nBinary files a/img.png and b/img.png differ\n";
        let s = parse_str(text).unwrap();
        let f = only_file(&s);
        assert!(f.binary);
        assert_eq!(paths(f), (Some("img.png"), Some("img.png")));

        let text = "diff --git a/i.png b/i.png\nindex 1..2 100644\nBinary files a/i.png and b/i.png differ\n";
        assert!(only_file(&parse_str(text).unwrap()).binary);
    }

    #[test]
    fn plain_diffs() {
        // `diff -u lock.c.orig lock.c`: one file, the shorter name.
        let s = parse("plain.diff");
        assert_eq!(s.patches[0].subject, "plain.diff");
        let f = only_file(&s);
        assert_eq!(paths(f), (Some("lock.c"), Some("lock.c")));
        assert_eq!(ranges(f), [(14, 7, 14, 7, 3)]);

        // `diff -urN linux.orig linux`: top directories stripped, the file
        // dated 1970 is new.
        let s = parse("urn.diff");
        let f = &s.patches[0].files;
        assert_eq!(paths(&f[0]), (None, Some("drivers/added.c")));
        assert_eq!(
            paths(&f[1]),
            (Some("drivers/queue.c"), Some("drivers/queue.c"))
        );

        // Git-style prefixes without a `diff --git` line.
        let text = "--- a/dir/x.c\n+++ b/dir/x.c\n@@ -1 +1 @@\n-a\n+b\n";
        assert_eq!(
            paths(only_file(&parse_str(text).unwrap())),
            (Some("dir/x.c"), Some("dir/x.c"))
        );
        // `git diff --no-prefix`: nothing to strip.
        let text = "diff --git dir/x.c dir/x.c\n--- dir/x.c\n+++ dir/x.c\n@@ -1 +1 @@\n-a\n+b\n";
        assert_eq!(
            paths(only_file(&parse_str(text).unwrap())),
            (Some("dir/x.c"), Some("dir/x.c"))
        );
        // A timestamp after spaces instead of a tab.
        let text = "--- x.c 2024-01-02 03:04:05.000 +0100\n+++ x.c 2024-01-02 03:04:06.000 +0100\n@@ -1 +1 @@\n-a\n+b\n";
        assert_eq!(
            paths(only_file(&parse_str(text).unwrap())),
            (Some("x.c"), Some("x.c"))
        );
    }

    #[test]
    fn text_before_a_plain_diff_and_git_show() {
        let text = "Fix the thing.\n\nMore words.\n\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n";
        let s = parse_str(text).unwrap();
        assert_eq!(s.patches[0].subject, "Fix the thing.");
        assert_eq!(s.patches[0].description, "Fix the thing.\n\nMore words.");

        let text = "commit 0123abcd\nAuthor: Ada Tester <ada@example.org>\nDate:   Mon Jan 1 00:00:00 2024 +0000\n\n    toy: do it\n\n    Because.\n\ndiff --git a/x.c b/x.c\nindex 1..2 100644\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n";
        let s = parse_str(text).unwrap();
        let p = &s.patches[0];
        assert_eq!(
            (p.subject.as_str(), p.author.as_deref()),
            ("toy: do it", Some("Ada Tester <ada@example.org>"))
        );
        assert_eq!(p.description, "toy: do it\n\nBecause.");
    }

    const MAIL: &str = "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\nFrom: Sender <s@example.org>\nDate: Tue, 10 Feb 2026 06:44:59 +0000\nSubject: [PATCH v2 2/5] toy: thing\n\n";
    const DIFF: &str = "---\n x.c | 2 +-\n\ndiff --git a/x.c b/x.c\nindex 1..2 100644\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n-- \n2.47.3\n";

    #[test]
    fn headers_encoded_words_and_in_body_from() {
        let text =
            MAIL.replace(
                "[PATCH v2 2/5] toy: thing",
                "=?UTF-8?q?[PATCH]=20toy:=20caf=C3=A9?=\n =?UTF-8?B?IGNyw6htZQ==?=",
            )
            .replace(
                "Sender <s@example.org>",
                "=?utf-8?q?Jos=C3=A9_Tester?= <j@example.org>",
            ) + DIFF;
        let s = parse_str(&text).unwrap();
        let p = &s.patches[0];
        assert_eq!(p.subject, "toy: café crème");
        assert_eq!(p.index, None);
        assert_eq!(p.author.as_deref(), Some("José Tester <j@example.org>"));

        let text = format!("{MAIL}From: Real Author <r@example.org>\n\nBody.\n{DIFF}");
        let s = parse_str(&text).unwrap();
        let p = &s.patches[0];
        assert_eq!(p.author.as_deref(), Some("Real Author <r@example.org>"));
        assert_eq!(
            (p.index, p.subject.as_str(), p.description.as_str()),
            (Some((2, 5)), "toy: thing", "Body.")
        );
    }

    #[test]
    fn quoted_printable_body() {
        let text = MAIL.replace("\n\n", "\nContent-Transfer-Encoding: quoted-printable\n\n")
            + "---\ndiff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-int a =3D 1;\n+int a =3D 2; /* a very long line that the mailer had to =\nbreak */\n";
        let s = parse_str(&text).unwrap();
        let h = &only_file(&s).hunks[0];
        assert_eq!(
            h.lines,
            [
                HunkLine::Remove("int a = 1;".into()),
                HunkLine::Add(
                    "int a = 2; /* a very long line that the mailer had to break */".into()
                )
            ]
        );
    }

    #[test]
    fn replies_and_empty_numbered_patches() {
        let reply = MAIL.replace("Subject: [PATCH v2 2/5]", "Subject: Re: [PATCH v2 2/5]")
            + "Looks good.\n";
        let text = format!("{reply}\n{MAIL}{DIFF}");
        let s = parse_str(&text).unwrap();
        assert_eq!(s.patches.len(), 2);
        assert!(s.patches[0].cover_letter);
        assert!(!s.patches[1].cover_letter);

        let text = format!("{MAIL}Just words.\n");
        let e = parse_str(&text).unwrap_err();
        assert!(matches!(e.kind, PatchErrorKind::EmptyPatch(_)), "{e}");
        assert_eq!(
            e.to_string(),
            "t.patch:1: `[PATCH v2 2/5] toy: thing` is numbered as a patch but contains no diff"
        );
    }

    #[test]
    fn signature_after_last_hunk_and_mime_boundary() {
        let s = parse_str(&format!("{MAIL}{DIFF}")).unwrap();
        assert_eq!(only_file(&s).hunks[0].lines.len(), 2);
        let text = format!(
            "{MAIL}{}",
            DIFF.replace("-- \n2.47.3\n", "--boundary42--\n")
        );
        assert_eq!(only_file(&parse_str(&text).unwrap()).hunks.len(), 1);
    }

    #[test]
    fn error_not_a_patch() {
        let e = parse_series("not-a-patch.txt", &read("not-a-patch.txt")).unwrap_err();
        assert_eq!(e.kind, PatchErrorKind::NoPatch);
        assert_eq!(
            e.to_string(),
            "not-a-patch.txt: no patch found (expected a unified diff, git format-patch output or an mbox)"
        );
        for text in ["", "\n\n", "From: x\nSubject: y\n\nhello\n"] {
            assert_eq!(parse_str(text).unwrap_err().kind, PatchErrorKind::NoPatch);
        }
    }

    #[test]
    fn error_malformed_hunk_header() {
        let e = parse_series("malformed-hunk.patch", &read("malformed-hunk.patch")).unwrap_err();
        assert!(
            matches!(e.kind, PatchErrorKind::MalformedHunkHeader { .. }),
            "{e}"
        );
        assert_eq!(e.line, 14);
        let msg = e.to_string();
        assert!(
            msg.starts_with("malformed-hunk.patch:14: malformed hunk header `@@ -1,x +1 @@`"),
            "{msg}"
        );
        for bad in [
            "@@ -1,2 +1,2",
            "@@ 1,2 +1,2 @@",
            "@@ -0,3 +1 @@",
            "@@ -99999999999 +1 @@",
        ] {
            let text = format!("--- a/x\n+++ b/x\n{bad}\n a\n a\n");
            let e = parse_str(&text).unwrap_err();
            assert!(
                matches!(e.kind, PatchErrorKind::MalformedHunkHeader { .. }),
                "{bad}: {e}"
            );
            assert_eq!(e.line, 3);
        }
    }

    #[test]
    fn error_hunk_length() {
        let e = parse_series("short-hunk.patch", &read("short-hunk.patch")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "short-hunk.patch:14: hunk body shorter than its header says: `@@ -5,8 +5,8 @@ int toy_shift_a(void)` announces 8 old and 8 new lines, found 7 old and 7 new lines before line 23 (`-- `)"
        );
        let e = parse_series("long-hunk.patch", &read("long-hunk.patch")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "long-hunk.patch:14: hunk body longer than its header says: `@@ -5,6 +5,6 @@ int toy_shift_a(void)` announces 6 old and 6 new lines, but line 22 continues the hunk"
        );
        // More removed lines than announced, while added ones are missing.
        let e = parse_str("--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n-a\n-b\n+c\n").unwrap_err();
        assert!(
            matches!(e.kind, PatchErrorKind::HunkTooLong { extra_line: 5, .. }),
            "{e}"
        );
    }

    #[test]
    fn error_truncated() {
        let e = parse_series("truncated.patch", &read("truncated.patch")).unwrap_err();
        assert_eq!(e.line, 28);
        assert!(matches!(e.kind, PatchErrorKind::Truncated(_)), "{e}");
        assert!(e.to_string().contains("announces 5 old and 6 new lines, found 3 old and 3 new lines before the end of the input"), "{e}");
        for text in [
            "--- a/x\n+++ b/x\n",
            "diff --git a/x b/x\n",
            "diff --git a/x b/x\n--- a/x\n",
        ] {
            let e = parse_str(text).unwrap_err();
            assert!(
                matches!(e.kind, PatchErrorKind::Truncated(_)),
                "{text:?}: {e}"
            );
        }
    }

    #[test]
    fn error_other_headers() {
        let e = parse_str("diff --git a/x b/x\n--- a/x\nhello\n").unwrap_err();
        assert!(
            matches!(e.kind, PatchErrorKind::MalformedFileHeader(_)),
            "{e}"
        );
        assert_eq!(e.line, 3);
        let e =
            parse_str("diff --cc x.c\n--- a/x.c\n+++ b/x.c\n@@@ -1,1 -1,1 +1,1 @@@\n").unwrap_err();
        assert_eq!((e.kind, e.line), (PatchErrorKind::CombinedDiff, 4));
        let e = parse_str("diff --git a/x b/x\nindex 1..2\ndiff --git a/y b/y\nold mode 100644\nnew mode 100755\n").unwrap_err();
        assert!(
            matches!(e.kind, PatchErrorKind::MalformedFileHeader(_)),
            "{e}"
        );
        assert_eq!(e.line, 1);
        let e = parse_str("--- \"a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("t.patch:1: malformed file header: unterminated quoted"),
            "{e}"
        );
    }

    #[test]
    fn seed_patches_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed/patches");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!(
                "note: {} is absent; seed patches not checked",
                dir.display()
            );
            return;
        };
        let mut names: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "patch"))
            .collect();
        names.sort();
        assert_eq!(names.len(), 3);
        let mut files_per_patch = Vec::new();
        for path in &names {
            let bytes = std::fs::read(path).unwrap();
            let s =
                parse_series(&path.display().to_string(), &bytes).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.patches.len(), 1);
            let p = &s.patches[0];
            assert!(p
                .author
                .as_deref()
                .is_some_and(|a| a.starts_with("Smita Koralahalli")));
            let files: Vec<(String, usize)> = p
                .files
                .iter()
                .map(|f| (f.path().to_string(), f.hunks.len()))
                .collect();
            files_per_patch.push((p.index, files));
        }
        let f = |s: &str, n| (s.to_string(), n);
        assert_eq!(
            files_per_patch[0],
            (
                Some((1, 2)),
                vec![f("drivers/dax/bus.c", 1), f("drivers/dax/bus.h", 1)]
            )
        );
        assert_eq!(
            files_per_patch[1],
            (
                Some((2, 2)),
                vec![
                    f("drivers/dax/bus.c", 1),
                    f("drivers/dax/bus.h", 1),
                    f("drivers/dax/hmem/hmem.c", 4)
                ]
            )
        );
        assert_eq!(files_per_patch[2].0, None);
        assert_eq!(files_per_patch[2].1.len(), 3);
    }

    /// A small deterministic generator, so the fuzz tests need no crate.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Parses, and applies whatever parsed to made-up files: neither may
    /// panic.
    fn no_panic(input: &[u8]) {
        if let Ok(series) = parse_series("fuzz", input) {
            for patch in &series.patches {
                let mut read =
                    |p: &str| Ok((p.len() % 3 != 0).then(|| b"a\nb\r\nc\n\n-- \nd".to_vec()));
                let _ = super::super::apply(patch, &mut read);
            }
        }
    }

    fn all_inputs() -> Vec<Vec<u8>> {
        let mut inputs: Vec<Vec<u8>> = all_patches().into_iter().map(|(_, b)| b).collect();
        inputs.push(format!("{MAIL}{DIFF}").into_bytes());
        let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed/patches");
        for entry in std::fs::read_dir(seeds).into_iter().flatten().flatten() {
            inputs.extend(std::fs::read(entry.path()).ok());
        }
        inputs
    }

    #[test]
    fn fuzz_truncations_at_every_line_and_byte_cuts() {
        for input in all_inputs() {
            let ends = input
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1);
            for end in ends.chain([input.len()]) {
                no_panic(&input[..end]);
                no_panic(&input[..end.saturating_sub(2)]);
                no_panic(&input[end.min(input.len())..]);
            }
        }
    }

    #[test]
    fn fuzz_garbage_lines_and_mutations() {
        const GARBAGE: &[&str] = &[
            "",
            " ",
            "+",
            "-",
            "\\",
            "\\ No newline at end of file",
            "@@",
            "@@ -1 +1 @@",
            "@@ -0,0 +0,0 @@",
            "@@ -4294967295,4294967295 +4294967295,4294967295 @@",
            "@@@ -1 -1 +1 @@@",
            "--- ",
            "+++ ",
            "--- a/x",
            "+++ /dev/null",
            "--- /dev/null",
            "diff --git ",
            "diff --git \"",
            "diff --git a/x b/x",
            "rename from \"\\",
            "new file mode",
            "deleted file mode 1",
            "GIT binary patch",
            "Binary files  differ",
            "-- ",
            "From x",
            "From x Mon Sep 17 00:00:00 2001",
            "Subject: [PATCH 1/1]",
            ">From x",
            "=?utf-8?b?=?=",
            "\r",
            "\u{feff}",
        ];
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for input in all_inputs() {
            let lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
            for _ in 0..40 {
                let mut out: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
                for _ in 0..1 + rng.below(3) {
                    let at = rng.below(out.len() + 1);
                    match rng.below(3) {
                        0 => out.insert(at, GARBAGE[rng.below(GARBAGE.len())].as_bytes().to_vec()),
                        1 if at < out.len() => {
                            out.remove(at);
                        }
                        _ => {
                            if let Some(line) = out.get_mut(at) {
                                let pos = rng.below(line.len() + 1);
                                line.insert(pos, rng.next() as u8);
                            }
                        }
                    }
                }
                no_panic(&out.join(&b'\n'));
            }
        }
    }

    #[test]
    fn fuzz_random_bytes() {
        let mut rng = XorShift(42);
        let alphabet = b"@@ -+,0123456789\n\r\\ab/diff --git\"From :";
        for round in 0..3000 {
            let len = rng.below(300);
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    if round % 2 == 0 {
                        rng.next() as u8
                    } else {
                        alphabet[rng.below(alphabet.len())]
                    }
                })
                .collect();
            no_panic(&bytes);
        }
    }
}
