//! JSON for programs: every block of every page (page headers and footers too), with its
//! page number, kind, location, text and whatever else it has; tables as rows of cells
//! with their spans and kinds. Unclosed elements are included with `"complete": false`.
//!
//! ```json
//! {"pages": 1, "blocks": [{"page": 1, "kind": "section_header", "bbox": [40, 40, 460, 60],
//!   "text": "Results", "level": 1, "complete": true}]}
//! ```

use crate::document::{Block, Document};
use serde::Serialize;

#[derive(Serialize)]
struct Json<'a> {
    pages: usize,
    blocks: Vec<PageBlock<'a>>,
}

#[derive(Serialize)]
struct PageBlock<'a> {
    /// From 1.
    page: usize,
    #[serde(flatten)]
    block: &'a Block,
}

/// `doc` as JSON (pretty-printed).
pub fn to_json(doc: &Document) -> String {
    let json = Json {
        pages: doc.pages.len(),
        blocks: doc
            .pages
            .iter()
            .enumerate()
            .flat_map(|(i, page)| {
                page.blocks.iter().map(move |block| PageBlock {
                    page: doc.page_number(i),
                    block,
                })
            })
            .collect(),
    };
    // Plain structs with string keys: serde_json cannot fail on them.
    serde_json::to_string_pretty(&json).expect("the JSON view always serializes")
}
