//! Markdown, byte for byte as docling-core's `DoclingDocument.export_to_markdown()` writes
//! it with default arguments for a document loaded from DocTags without page images
//! (reference: `docling_core/transforms/serializer/markdown.py`; the corpus tests hold
//! us to its output).
//!
//! What that means, element by element: blocks are joined by a blank line; page headers
//! and footers are left out; a title is `#`, a level-N section header N+1 `#`s (at most
//! six); text keeps its line breaks as hard breaks (`"  \n"`); text, headings, list items
//! and captions escape `_` (outside `![..](..)` images) and `&`, `<`, `>`; code and
//! formulas are written raw (a fence without language, `$$…$$`); a table or picture's
//! caption comes before it; a picture is `<!-- image -->`, then its class ("Bar chart"),
//! then a chart's data table; table cells repeat across their spans, escape `|` as
//! `&#124;`, and form pipe tables whose first row is the header (`pipe_table`).
//!
//! docling-core only places a picture that has a location, and keeps no more than the
//! existence of an element that was never closed: an empty heading is still `# `, an
//! empty code block still a fence. [`MarkdownOptions::keep_unfinished`] shows what an
//! unclosed element held so far instead, for a generation still running.

use crate::document::{Block, BlockKind, Document, Table};
use crate::pipe_table;

/// Choices beyond docling-core's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// Render the content of elements that were never closed (the end of a truncated or
    /// still streaming answer). Off: docling-core's output.
    pub keep_unfinished: bool,
}

/// docling-core's Markdown for `doc`.
pub fn to_markdown(doc: &Document) -> String {
    to_markdown_with(doc, MarkdownOptions::default())
}

/// Markdown with [`MarkdownOptions`].
pub fn to_markdown_with(doc: &Document, options: MarkdownOptions) -> String {
    let mut parts = Vec::new();
    for block in doc.pages.iter().flat_map(|page| &page.blocks) {
        if !block.complete && !options.keep_unfinished && block.kind != BlockKind::Inline {
            push_block(&mut parts, &what_docling_keeps(block));
        } else {
            push_block(&mut parts, block);
        }
    }
    parts.join("\n\n")
}

/// An unclosed element as docling-core reads it (`<name></name>`): kind and location,
/// no content.
fn what_docling_keeps(block: &Block) -> Block {
    let mut kept = Block::new(block.kind);
    kept.level = block.level;
    kept.bbox = block.bbox;
    if matches!(
        block.kind,
        BlockKind::Chart | BlockKind::Table | BlockKind::DocumentIndex
    ) {
        kept.table = Some(Table::default());
    }
    kept
}

fn push_block(parts: &mut Vec<String>, block: &Block) {
    let mut push = |text: String| {
        if !text.is_empty() {
            parts.push(text);
        }
    };
    match block.kind {
        BlockKind::PageHeader | BlockKind::PageFooter => {}
        BlockKind::Title | BlockKind::SectionHeader => push(heading(block)),
        BlockKind::Text | BlockKind::Caption | BlockKind::Footnote => push(paragraph(&block.text)),
        BlockKind::CheckboxSelected => push(paragraph(&format!("- [x] {}", block.text))),
        BlockKind::CheckboxUnselected => push(paragraph(&format!("- [ ] {}", block.text))),
        BlockKind::Code => push(code_block(&block.text)),
        BlockKind::Formula if block.text.is_empty() => {}
        BlockKind::Formula => push(format!("$${}$$", block.text)),
        BlockKind::OrderedList | BlockKind::UnorderedList => {
            let items: Vec<String> = block
                .items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let marker = match block.kind {
                        BlockKind::OrderedList => format!("{}.", i + 1),
                        _ => "-".to_string(),
                    };
                    format!("{marker} {}", paragraph(&item.text))
                })
                .collect();
            push(items.join("\n"));
        }
        BlockKind::Table => {
            push(caption(block));
            push(table(block.table.as_ref()));
        }
        BlockKind::Picture | BlockKind::Chart => {
            push(caption(block));
            // Without a location docling-core adds no picture, only its caption.
            if block.bbox.is_some() {
                push("<!-- image -->".to_string());
                push(
                    block
                        .classification
                        .as_deref()
                        .map(humanize)
                        .unwrap_or_default(),
                );
                push(table(block.table.as_ref()));
            }
        }
        BlockKind::KeyValueRegion => push("<!-- missing-key-value-item -->".to_string()),
        // docling-core 2.104 fails on a document index (it makes a text item with a label
        // text items refuse); ours shows its table, or its text.
        BlockKind::DocumentIndex => match table(block.table.as_ref()) {
            t if t.is_empty() => push(paragraph(&block.text)),
            t => push(t),
        },
        BlockKind::Inline => {
            let pieces: Vec<String> = block
                .children
                .iter()
                .map(inline)
                .filter(|s| !s.is_empty())
                .collect();
            push(pieces.join(" "));
        }
    }
}

/// An element inside `<inline>`: code as a code span, a formula as `$…$`.
fn inline(block: &Block) -> String {
    match block.kind {
        BlockKind::PageHeader | BlockKind::PageFooter => String::new(),
        BlockKind::Title | BlockKind::SectionHeader => heading(block),
        BlockKind::CheckboxSelected => paragraph(&format!("- [x] {}", block.text)),
        BlockKind::CheckboxUnselected => paragraph(&format!("- [ ] {}", block.text)),
        BlockKind::Code => code_span(&block.text),
        BlockKind::Formula if block.text.is_empty() => String::new(),
        BlockKind::Formula => format!("${}$", block.text),
        _ => paragraph(&block.text),
    }
}

fn heading(block: &Block) -> String {
    let hashes = match block.kind {
        BlockKind::Title => 1,
        _ => (usize::from(block.level.unwrap_or(1)) + 1).min(6),
    };
    // Headings cannot span lines in Markdown.
    format!(
        "{} {}",
        "#".repeat(hashes),
        escape(&block.text.replace('\n', " "))
    )
}

/// Text with its single newlines as hard line breaks, escaped.
fn paragraph(text: &str) -> String {
    let broken: Vec<String> = text
        .split("\n\n")
        .map(|p| p.replace('\n', "  \n"))
        .collect();
    escape(&broken.join("\n\n"))
}

fn caption(block: &Block) -> String {
    block
        .caption
        .as_ref()
        .map(|c| escape(&c.text))
        .unwrap_or_default()
}

fn table(table: Option<&Table>) -> String {
    let Some(table) = table else {
        return String::new();
    };
    let rows: Vec<Vec<String>> = table
        .grid()
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| {
                    let text = cell.map_or("", |c| c.text.as_str());
                    text.replace('\n', " ").replace('|', "&#124;")
                })
                .collect()
        })
        .collect();
    pipe_table::render(&rows)
}

/// docling-core's `_humanize_text`: `bar_chart` → `Bar chart`.
fn humanize(name: &str) -> String {
    let spaced = name.replace("__", "_").replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn code_block(text: &str) -> String {
    let fence = "`".repeat((longest_backtick_run(text) + 1).max(3));
    format!("{fence}\n{text}\n{fence}")
}

fn code_span(text: &str) -> String {
    let ticks = "`".repeat(longest_backtick_run(text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// docling-core's `post_process`: `_` becomes `\_` (unless already escaped, and not
/// inside a Markdown image `![..](..)`), then `html.escape(quote=False)`.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut at = 0;
    while let Some((start, end)) = next_image(text, at) {
        escape_underscores(&text[at..start], &mut out);
        out.push_str(&text[start..end]);
        at = end;
    }
    escape_underscores(&text[at..], &mut out);
    html_escape(&out)
}

/// The next match of `!\[.*?\]\((.*?)\)` (no `re.DOTALL`) at or after `from`.
fn next_image(text: &str, from: usize) -> Option<(usize, usize)> {
    let mut search = from;
    while let Some(start) = text[search..].find("![").map(|i| search + i) {
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = &text[start + 2..line_end];
        if let Some(mid) = line.find("](") {
            if let Some(close) = line[mid + 2..].find(')') {
                return Some((start, start + 2 + mid + 2 + close + 1));
            }
        }
        // A later `![` on this line would need a `](…)` after this one's: there is none.
        search = line_end;
    }
    None
}

fn escape_underscores(segment: &str, out: &mut String) {
    let mut prev = None;
    for c in segment.chars() {
        if c == '_' && prev != Some('\\') {
            out.push('\\');
        }
        out.push(c);
        prev = Some(c);
    }
}

/// Python's `html.escape(s, quote=False)`.
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underscores_escape_outside_images_only() {
        assert_eq!(escape("a_b ![x_y](u_v) c_d"), r"a\_b ![x_y](u_v) c\_d");
        assert_eq!(escape(r"already \_ done"), r"already \_ done");
        assert_eq!(escape("![no\n](close) _"), "![no\n](close) \\_");
        assert_eq!(escape("1 < 2 & 3"), "1 &lt; 2 &amp; 3");
        assert_eq!(escape("![a ![b](c_d) e_f"), r"![a ![b](c_d) e\_f");
        assert_eq!(escape("![a_ ![b_\n](c_d)"), "![a\\_ ![b\\_\n](c\\_d)");
    }

    #[test]
    fn fences_outgrow_backticks_inside() {
        assert_eq!(code_block("a ``` b"), "````\na ``` b\n````");
        assert_eq!(code_span("`x`"), "`` `x` ``");
    }

    #[test]
    fn humanized_classes() {
        assert_eq!(humanize("bar_chart"), "Bar chart");
        assert_eq!(
            humanize("chemistry_molecular_structure"),
            "Chemistry molecular structure"
        );
    }
}
