//! DocTags text to a [`Document`], the way docling-core's
//! `DocTagsDocument.from_multipage_doctags_and_images` + `DoclingDocument.load_from_doctags`
//! read it (reference: `docling_core/types/doc/doctags.py` and `document.py`).
//!
//! Pages are the parts between `<page_break>`s. On a page, known elements are found in
//! order; anything between them (unknown tags, stray text) is ignored. An element ends at
//! the first `</name>` after it, nesting not counted, or, never closed, at the end of its
//! page: the generation stopped there. Never panics, whatever the input.

use crate::document::{Block, BlockKind, Caption, Document, ListItem, Page};
use crate::lexer::{self, py_strip, Element};
use crate::otsl;

/// Parses DocTags, however malformed or truncated.
pub fn parse(text: &str) -> Document {
    let body = text.strip_prefix("<doctag>").unwrap_or(text);
    let body = body.strip_suffix("</doctag>").unwrap_or(body);
    let pages = body
        .split("<page_break>")
        .map(|page| Page {
            blocks: lexer::elements(py_strip(page))
                .into_iter()
                .map(block)
                .collect(),
            number: None,
        })
        .collect();
    Document { pages }
}

fn kind_of(name: &str) -> (BlockKind, Option<u8>) {
    let kind = match name {
        "title" => BlockKind::Title,
        "text" => BlockKind::Text,
        "caption" => BlockKind::Caption,
        "footnote" => BlockKind::Footnote,
        "page_header" => BlockKind::PageHeader,
        "page_footer" => BlockKind::PageFooter,
        "checkbox_selected" => BlockKind::CheckboxSelected,
        "checkbox_unselected" => BlockKind::CheckboxUnselected,
        "code" => BlockKind::Code,
        "formula" => BlockKind::Formula,
        "ordered_list" => BlockKind::OrderedList,
        "unordered_list" => BlockKind::UnorderedList,
        "otsl" => BlockKind::Table,
        "picture" => BlockKind::Picture,
        "chart" => BlockKind::Chart,
        "key_value_region" => BlockKind::KeyValueRegion,
        "document_index" => BlockKind::DocumentIndex,
        "inline" => BlockKind::Inline,
        _ => {
            // `lexer::elements` only yields the names above and section_header_level_1..6.
            let level = name.bytes().last().map_or(1, |d| d.saturating_sub(b'0'));
            return (BlockKind::SectionHeader, Some(level));
        }
    };
    (kind, None)
}

/// What an unclosed element's content is read as: up to the end of its page, less a
/// tag the generation stopped in the middle of (`<fc`, `<loc_3`) and a final `</doctag>`.
fn unfinished(content: &str) -> &str {
    let mut content = content.trim_end_matches(lexer::is_py_space);
    if let Some(before) = content.strip_suffix("</doctag>") {
        content = before;
    }
    match content.rfind('<') {
        Some(lt) if !content[lt..].contains('>') => &content[..lt],
        _ => content,
    }
}

fn block(element: Element<'_>) -> Block {
    let (kind, level) = kind_of(element.name);
    let mut block = Block::new(kind);
    block.level = level;
    block.complete = element.closed;
    block.bbox = lexer::bbox(element.full);
    // An unclosed element is read as if it closed where the page ends.
    let rebuilt;
    let chunk = if element.closed {
        element.full
    } else {
        rebuilt = format!("<{0}>{1}</{0}>", element.name, unfinished(element.content));
        &rebuilt
    };
    match kind {
        BlockKind::Table | BlockKind::Chart | BlockKind::DocumentIndex | BlockKind::Picture => {
            if kind != BlockKind::Picture {
                block.table = Some(otsl::parse(chunk));
            }
            block.caption = lexer::caption(chunk).map(|content| Caption {
                text: lexer::inner_text(content),
                bbox: lexer::bbox(content),
            });
            if matches!(kind, BlockKind::Picture | BlockKind::Chart) {
                block.classification = classification(chunk).map(str::to_string);
            }
            if kind == BlockKind::DocumentIndex {
                block.text = lexer::inner_text(chunk);
            }
        }
        BlockKind::OrderedList | BlockKind::UnorderedList => {
            block.items = lexer::list_items(chunk)
                .into_iter()
                .map(|item| ListItem {
                    text: lexer::inner_text(item),
                    bbox: lexer::bbox(item),
                })
                .collect();
        }
        // docling-core reads an inline group's content as it stands, closed or not, and
        // gives the elements inside (whatever they are, read as text) the group's location.
        BlockKind::Inline => {
            let bbox = lexer::bbox(element.content);
            block.children = lexer::elements(element.content)
                .into_iter()
                .map(|child| {
                    let (kind, level) = kind_of(child.name);
                    let mut inner = Block::new(kind);
                    inner.level = level;
                    inner.complete = child.closed;
                    inner.bbox = bbox;
                    inner.text = block_text(kind, child.full, &mut inner.language);
                    inner
                })
                .collect();
        }
        _ => block.text = block_text(kind, chunk, &mut block.language),
    }
    block
}

fn block_text(kind: BlockKind, chunk: &str, language: &mut Option<String>) -> String {
    let text = lexer::inner_text(chunk);
    if kind == BlockKind::Code {
        if let Some((name, code)) = lexer::code_language(&text) {
            *language = Some(name.to_string());
            return code.to_string();
        }
    }
    text
}

/// Picture classes docling-core looks for, in its order (the first present wins):
/// DocumentFigureClassifier v2, then v1, then SmolDocling's chart names, mapped.
const CLASSES: [(&str, &str); 39] = [
    ("logo", "logo"),
    ("photograph", "photograph"),
    ("icon", "icon"),
    ("engineering_drawing", "engineering_drawing"),
    ("line_chart", "line_chart"),
    ("bar_chart", "bar_chart"),
    ("other", "other"),
    ("table", "table"),
    ("flow_chart", "flow_chart"),
    ("screenshot_from_computer", "screenshot_from_computer"),
    ("signature", "signature"),
    ("screenshot_from_manual", "screenshot_from_manual"),
    ("geographical_map", "geographical_map"),
    ("pie_chart", "pie_chart"),
    ("page_thumbnail", "page_thumbnail"),
    ("stamp", "stamp"),
    ("music", "music"),
    ("calendar", "calendar"),
    ("qr_code", "qr_code"),
    ("bar_code", "bar_code"),
    ("full_page_image", "full_page_image"),
    ("scatter_plot", "scatter_plot"),
    ("chemistry_structure", "chemistry_structure"),
    ("topographical_map", "topographical_map"),
    ("crossword_puzzle", "crossword_puzzle"),
    ("box_plot", "box_plot"),
    ("stacked_bar_chart", "stacked_bar_chart"),
    ("scatter_chart", "scatter_chart"),
    ("heatmap", "heatmap"),
    ("natural_image", "natural_image"),
    ("remote_sensing", "remote_sensing"),
    ("screenshot", "screenshot"),
    (
        "chemistry_molecular_structure",
        "chemistry_molecular_structure",
    ),
    ("chemistry_markush_structure", "chemistry_markush_structure"),
    ("picture_group", "picture_group"),
    ("line", "line_chart"),
    ("dot_line", "line_chart"),
    ("vbar_categorical", "bar_chart"),
    ("hbar_categorical", "bar_chart"),
];

/// The class of a picture or chart: the first of [`CLASSES`] whose `<tag>` appears
/// anywhere in the element (a caption's text included, as in docling-core).
fn classification(chunk: &str) -> Option<&'static str> {
    CLASSES
        .iter()
        .find(|(tag, _)| {
            chunk.match_indices(tag).any(|(at, _)| {
                at > 0 && chunk[..at].ends_with('<') && chunk[at + tag.len()..].starts_with('>')
            })
        })
        .map(|(_, class)| *class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_breaks_split_pages() {
        let doc = parse("<doctag><text>a</text><page_break><text>b</text><page_break></doctag>");
        let texts: Vec<Vec<&str>> = doc
            .pages
            .iter()
            .map(|p| p.blocks.iter().map(|b| b.text.as_str()).collect())
            .collect();
        assert_eq!(texts, [vec!["a"], vec!["b"], vec![]]);
    }

    #[test]
    fn an_unclosed_element_keeps_its_text_and_is_marked() {
        let doc = parse("<doctag><text><loc_1><loc_2><loc_3><loc_4>half a sent<loc_");
        let block = &doc.pages[0].blocks[0];
        assert_eq!(
            (block.text.as_str(), block.complete),
            ("half a sent", false)
        );
        assert_eq!(block.bbox, Some([1, 2, 3, 4]));
    }

    #[test]
    fn code_language_is_split_off() {
        let doc = parse("<code><loc_1><loc_2><loc_3><loc_4><_Rust_>fn main() {}</code>");
        let block = &doc.pages[0].blocks[0];
        assert_eq!(block.language.as_deref(), Some("Rust"));
        assert_eq!(block.text, "fn main() {}");
    }

    #[test]
    fn picture_classes_follow_docling_order_and_legacy_names() {
        assert_eq!(
            classification("<picture><table><logo></picture>"),
            Some("logo")
        );
        assert_eq!(
            classification("<picture><dot_line></picture>"),
            Some("line_chart")
        );
        assert_eq!(classification("<picture>line</picture>"), None);
    }

    #[test]
    fn section_header_levels() {
        let doc = parse("<section_header_level_3>x</section_header_level_3>");
        let block = &doc.pages[0].blocks[0];
        assert_eq!(
            (block.kind, block.level),
            (BlockKind::SectionHeader, Some(3))
        );
    }
}
