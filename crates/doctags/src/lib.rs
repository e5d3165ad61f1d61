//! DocTags to Markdown, HTML, plain text and JSON.
//!
//! DocTags is what IBM's granite-docling-258M and SmolDocling-256M answer with: a page as
//! `<doctag>…</doctag>`, one element per block (`<title>`, `<section_header_level_1>`,
//! `<text>`, `<otsl>` tables, `<picture>`, `<code>`, `<formula>`, lists, …), each opening
//! with four `<loc_N>` tokens, its box on a 0..=500 grid, and pages split by
//! `<page_break>`. The reference reader is Python docling-core (`DoclingDocument.
//! load_from_doctags` and `export_to_markdown`): [`to_markdown`] writes the same bytes
//! (tests/corpus.rs holds it to docling-core's output for every sample).
//!
//! Reading never fails: a model's answer may stop anywhere, so [`parse`] keeps what came,
//! marks elements that were never closed, and ignores what it does not know.
//!
//! ```
//! let doc = doctags::parse("<doctag><title><loc_10><loc_10><loc_490><loc_30>Hello</title></doctag>");
//! assert_eq!(doctags::to_markdown(&doc), "# Hello");
//! assert_eq!(doc.pages[0].blocks[0].bbox, Some([10, 10, 490, 30]));
//! ```
//!
//! Pure Rust on `std` and serde: no file system, no threads; it runs in wasm32.

mod document;
mod html;
mod json;
mod lexer;
mod markdown;
mod otsl;
mod parse;
mod pipe_table;
mod text;

pub use document::{
    Block, BlockKind, Caption, Cell, CellKind, Document, ListItem, Page, Table, MAX_GRID_CELLS,
};
pub use html::to_html;
pub use json::to_json;
pub use markdown::{to_markdown, to_markdown_with, MarkdownOptions};
pub use parse::parse;
pub use text::to_text;
