//! Plain text: the reading text of a document, nothing else. Blocks are separated by a
//! blank line, page headers and footers left out (as in the Markdown), a list item is
//! `- ` or `N. `, a checkbox `[x] `/`[ ] `, a table is its caption and then one line per
//! row with cells separated by tabs (a spanned cell's text once, in its first position),
//! a picture is its caption. Unclosed elements show what they held so far.

use crate::document::{Block, BlockKind, Document, Table};

/// The plain text of `doc`.
pub fn to_text(doc: &Document) -> String {
    let parts: Vec<String> = doc
        .pages
        .iter()
        .flat_map(|page| &page.blocks)
        .map(block)
        .filter(|s| !s.is_empty())
        .collect();
    parts.join("\n\n")
}

fn block(block: &Block) -> String {
    match block.kind {
        BlockKind::PageHeader | BlockKind::PageFooter => String::new(),
        BlockKind::CheckboxSelected => format!("[x] {}", block.text),
        BlockKind::CheckboxUnselected => format!("[ ] {}", block.text),
        BlockKind::OrderedList | BlockKind::UnorderedList => {
            let items: Vec<String> = block
                .items
                .iter()
                .enumerate()
                .map(|(i, item)| match block.kind {
                    BlockKind::OrderedList => format!("{}. {}", i + 1, item.text),
                    _ => format!("- {}", item.text),
                })
                .collect();
            items.join("\n")
        }
        BlockKind::Table | BlockKind::Picture | BlockKind::Chart | BlockKind::DocumentIndex => {
            let mut parts = Vec::new();
            if let Some(caption) = block.caption.as_ref().filter(|c| !c.text.is_empty()) {
                parts.push(caption.text.clone());
            }
            match block.table.as_ref().filter(|t| t.num_rows > 0) {
                Some(t) => parts.push(rows(t)),
                None if block.kind == BlockKind::DocumentIndex && !block.text.is_empty() => {
                    parts.push(block.text.clone())
                }
                None => {}
            }
            parts.join("\n")
        }
        BlockKind::Inline => {
            let pieces: Vec<&str> = block
                .children
                .iter()
                .filter(|c| !c.kind.is_furniture() && !c.text.is_empty())
                .map(|c| c.text.as_str())
                .collect();
            pieces.join(" ")
        }
        _ => block.text.clone(),
    }
}

fn rows(table: &Table) -> String {
    let lines: Vec<String> = table
        .grid()
        .iter()
        .enumerate()
        .map(|(r, row)| {
            let cells: Vec<&str> = row
                .iter()
                .enumerate()
                .map(|(c, slot)| match slot {
                    Some(cell) if cell.row == r && cell.col == c => cell.text.as_str(),
                    _ => "",
                })
                .collect();
            cells.join("\t")
        })
        .collect();
    lines.join("\n")
}
