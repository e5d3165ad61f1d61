//! The scanners DocTags is read with.
//!
//! docling-core reads DocTags with a handful of regular expressions, and each has its own
//! idea of what a tag is: an element opens with exactly `<name>`, text loses
//! `<[a-zA-Z/][^>]*>`, OTSL splits on `<[^>]+>`, boxes are `<loc_(\d+)>`. Matching its
//! output means reading the same way, so each scanner here reproduces one of those
//! patterns (named beside it), Python's `re` semantics included, without a regex engine.
//! Reference: docling-core `docling_core/types/doc/document.py` (`load_from_doctags`) and
//! `docling_core/types/doc/utils.py` (`otsl_extract_tokens_and_text`).

/// Python's `str.isspace` for one character: what `str.strip()` removes. Rust's
/// `char::is_whitespace` plus the four information separators U+001C..U+001F, which
/// Python counts as whitespace.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// docling-core's `extract_inner_text`: `re.sub(r"<(?!_.*?_>)[a-zA-Z/][^>]*>", "", s).strip()`.
/// A tag starts with a letter or `/` and runs to the next `>` (across lines and other
/// `<`), so `P < 0.05` and `<_Python_>` survive. (The look-ahead can never fire: `_` is
/// not a letter.)
pub(crate) fn inner_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(lt) = rest.find('<') {
        let after = &rest[lt + 1..];
        // No `>` left: no tag can end, here or later.
        let Some(gt) = after.find('>') else {
            break;
        };
        out.push_str(&rest[..lt]);
        if after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/') {
            rest = &after[gt + 1..];
        } else {
            out.push('<');
            rest = after;
        }
    }
    out.push_str(rest);
    py_strip(&out).to_string()
}

/// The values of every `<loc_(\d+)>` in `s`, in order (ASCII digits; huge values saturate).
fn locs(s: &str) -> impl Iterator<Item = u64> + '_ {
    let mut rest = s;
    std::iter::from_fn(move || loop {
        let at = rest.find("<loc_")?;
        let after = &rest[at + 5..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 && after[digits..].starts_with('>') {
            rest = &after[digits + 1..];
            let value = after[..digits].bytes().fold(0u64, |v, d| {
                v.saturating_mul(10).saturating_add(u64::from(d - b'0'))
            });
            return Some(value);
        }
        rest = after;
    })
}

/// docling-core's `extract_bounding_box`: the first four locations in `s`, or none when
/// there are fewer. Clamped to the 500 grid.
pub(crate) fn bbox(s: &str) -> Option<[u16; 4]> {
    let mut found = [0u16; 4];
    let mut n = 0;
    for value in locs(s).take(4) {
        found[n] = value.min(500) as u16;
        n += 1;
    }
    (n == 4).then_some(found)
}

/// One piece of `re.split(r"(<[^>]+>)", s)`: a tag (angle brackets included) or the text
/// between two tags (possibly empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Tag(&'a str),
    Text(&'a str),
}

impl<'a> Piece<'a> {
    pub(crate) fn as_str(self) -> &'a str {
        match self {
            Piece::Tag(s) | Piece::Text(s) => s,
        }
    }
}

/// `re.split(r"(<[^>]+>)", s)`: text and tags alternating, starting and ending with text.
/// A tag is `<`, at least one character that is not `>`, then the first `>`.
pub(crate) fn split_angle_tags(s: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut text_start = 0;
    let mut at = 0;
    while let Some(lt) = s[at..].find('<').map(|i| at + i) {
        let after = &s[lt + 1..];
        match after.find('>') {
            Some(gt) if gt > 0 => {
                let end = lt + 1 + gt + 1;
                pieces.push(Piece::Text(&s[text_start..lt]));
                pieces.push(Piece::Tag(&s[lt..end]));
                text_start = end;
                at = end;
            }
            Some(_) => at = lt + 1,
            // No `>` left: no tag can end, here or later.
            None => break,
        }
    }
    pieces.push(Piece::Text(&s[text_start..]));
    pieces
}

/// The content of the first caption, as `re.search(r"<caption>(.*?)</caption>", s)`
/// finds it: without `re.DOTALL`, so a caption whose text spans lines is not found.
pub(crate) fn caption(s: &str) -> Option<&str> {
    const OPEN: &str = "<caption>";
    let mut from = 0;
    while let Some(open) = s[from..].find(OPEN).map(|i| from + i) {
        let start = open + OPEN.len();
        // Without a closing tag after this one, there is none after a later one either.
        let len = s[start..].find("</caption>")?;
        let content = &s[start..start + len];
        match content.rfind('\n') {
            None => return Some(content),
            // Every `<caption>` before that line break would cross it too.
            Some(nl) => from = start + nl + 1,
        }
    }
    None
}

/// The language tag that opens code text, as `re.match(r"^<_([^>]+)_>", text)`:
/// the name and the text after the tag (not trimmed again).
pub(crate) fn code_language(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("<_")?;
    let gt = rest.find('>')?;
    let name = rest[..gt].strip_suffix('_')?;
    (!name.is_empty()).then(|| (name, &rest[gt + 1..]))
}

/// One element found by docling-core's page pattern:
/// `<(?P<tag>NAME)>(?P<content>.*?)(?:(?P<closed></(?P=tag)>)|(?P<eof>$))` with DOTALL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Element<'a> {
    pub name: &'a str,
    /// Between the opening tag and the first `</name>`, or the end of the text.
    pub content: &'a str,
    /// The whole match, both tags included.
    pub full: &'a str,
    pub closed: bool,
}

/// The element names docling-core recognises at the top of a page (and inside
/// `<inline>`). Everything else between them is ignored.
const ELEMENT_NAMES: [&str; 18] = [
    "title",
    "document_index",
    "checkbox_unselected",
    "checkbox_selected",
    "text",
    "page_header",
    "inline",
    "page_footer",
    "formula",
    "caption",
    "picture",
    "footnote",
    "code",
    "ordered_list",
    "unordered_list",
    "key_value_region",
    "chart",
    "otsl",
];

/// The element name opening `s` (which starts just after a `<`), if `s` starts with a
/// known name followed by `>`.
fn element_name(s: &str) -> Option<&str> {
    let name_len = ELEMENT_NAMES
        .iter()
        .find(|name| s.starts_with(*name) && s[name.len()..].starts_with('>'))
        .map(|name| name.len())
        .or_else(|| {
            let level = s.strip_prefix("section_header_level_")?.as_bytes();
            (level.len() >= 2 && (b'1'..=b'6').contains(&level[0]) && level[1] == b'>')
                .then_some("section_header_level_".len() + 1)
        })?;
    Some(&s[..name_len])
}

/// Every element of `s`, in order, as `re.finditer` finds them: each search starts
/// where the previous match ended, and an unclosed element runs to the end of `s`
/// (Python's `$`: the very end, or just before one final newline).
pub(crate) fn elements(s: &str) -> Vec<Element<'_>> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(lt) = s[at..].find('<').map(|i| at + i) {
        let Some(name) = element_name(&s[lt + 1..]) else {
            at = lt + 1;
            continue;
        };
        let content_start = lt + 1 + name.len() + 1;
        let close = format!("</{name}>");
        let (content_end, end, closed) = match s[content_start..].find(&close) {
            Some(i) => {
                let content_end = content_start + i;
                (content_end, content_end + close.len(), true)
            }
            None => {
                let eof = if s.ends_with('\n') && s.len() > content_start {
                    s.len() - 1
                } else {
                    s.len()
                };
                (eof, eof, false)
            }
        };
        found.push(Element {
            name,
            content: &s[content_start..content_end],
            full: &s[lt..end],
            closed,
        });
        at = end;
    }
    found
}

/// Every `<list_item>…</list_item>` of a list, as
/// `re.finditer(r"<list_item>.*?</list_item>", s, re.DOTALL)`: unclosed items are skipped.
pub(crate) fn list_items(s: &str) -> Vec<&str> {
    const OPEN: &str = "<list_item>";
    const CLOSE: &str = "</list_item>";
    let mut items = Vec::new();
    let mut at = 0;
    while let Some(open) = s[at..].find(OPEN).map(|i| at + i) {
        let Some(len) = s[open + OPEN.len()..].find(CLOSE) else {
            break;
        };
        let end = open + OPEN.len() + len + CLOSE.len();
        items.push(&s[open..end]);
        at = end;
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_text_removes_tags_but_not_comparisons() {
        assert_eq!(
            inner_text("<text><loc_1>P < 0.05 and P > 0.01</text>"),
            "P < 0.05 and P > 0.01"
        );
        assert_eq!(inner_text(" a <_Python_> b "), "a <_Python_> b");
        assert_eq!(inner_text("a <b c <d> e"), "a  e");
        assert_eq!(inner_text("cut <loc_1"), "cut <loc_1");
    }

    #[test]
    fn bbox_takes_the_first_four_locations() {
        assert_eq!(bbox("<loc_1><loc_2><loc_3>"), None);
        assert_eq!(
            bbox("<loc_1><loc_2><loc_3><loc_4><loc_5>"),
            Some([1, 2, 3, 4])
        );
        assert_eq!(
            bbox("<loc_1><loc_2><loc_3><loc_99999999999999999999999>"),
            Some([1, 2, 3, 500])
        );
        assert_eq!(bbox("<loc_1><loc_2><loc_3><loc_4"), None);
    }

    #[test]
    fn split_keeps_empty_texts_between_tags() {
        let pieces = split_angle_tags("<fcel>a<>b<nl>");
        assert_eq!(
            pieces,
            [
                Piece::Text(""),
                Piece::Tag("<fcel>"),
                Piece::Text("a<>b"),
                Piece::Tag("<nl>"),
                Piece::Text("")
            ]
        );
    }

    #[test]
    fn captions_on_one_line_only() {
        assert_eq!(
            caption("<caption>a\nb</caption><caption>c</caption>"),
            Some("c")
        );
        assert_eq!(caption("<caption>a\nb</caption>"), None);
    }

    #[test]
    fn code_language_needs_a_closing_underscore() {
        assert_eq!(code_language("<_Python_>\nx"), Some(("Python", "\nx")));
        assert_eq!(code_language("<__>x"), None);
        assert_eq!(code_language("<_C++_>x"), Some(("C++", "x")));
    }

    #[test]
    fn unclosed_element_runs_to_the_end_before_a_final_newline() {
        let found = elements("<text>a</text><title>b\n");
        assert_eq!(found.len(), 2);
        assert!(found[0].closed);
        assert_eq!((found[1].content, found[1].closed), ("b", false));
        assert!(elements("<section_header_level_7>x</section_header_level_7>").is_empty());
        assert_eq!(
            elements("<section_header_level_2>x")[0].name,
            "section_header_level_2"
        );
    }
}
