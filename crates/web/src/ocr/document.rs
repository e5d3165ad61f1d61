//! A document's answers as people want them: each page's DocTags parsed (`crates/doctags`)
//! into blocks with their boxes over the page, and the whole as Markdown, HTML or JSON.
//! Pure, so it renders natively and its tests run natively; the page calls it from its
//! components and its downloads.

use doctags::{Block, BlockKind, Document, Page};

use super::DocPage;

/// What the document is downloaded (or copied) as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Markdown,
    Html,
    Json,
}

impl Export {
    pub const ALL: [Export; 3] = [Export::Markdown, Export::Html, Export::Json];

    /// The file name's extension (and the button's label).
    pub fn extension(self) -> &'static str {
        match self {
            Self::Markdown => "md",
            Self::Html => "html",
            Self::Json => "json",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Markdown => "text/markdown",
            Self::Html => "text/html",
            Self::Json => "application/json",
        }
    }
}

/// One page's answer parsed (an empty page while nothing is written), numbered as the PDF
/// numbers it.
pub fn page_of(page: &DocPage) -> Page {
    Page {
        number: Some(page.number as usize),
        ..doctags::parse(&page.doctags)
            .pages
            .into_iter()
            .next()
            .unwrap_or_default()
    }
}

/// The pages read so far as one document.
pub fn document(pages: &[DocPage]) -> Document {
    Document {
        pages: pages.iter().map(page_of).collect(),
    }
}

/// The document in `format`. HTML is a whole file (the fragment `doctags` makes, in a
/// page of its own), so that it opens in a browser as it is.
pub fn export(pages: &[DocPage], format: Export) -> String {
    let doc = document(pages);
    match format {
        Export::Markdown => doctags::to_markdown(&doc),
        Export::Json => doctags::to_json(&doc),
        Export::Html => format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Document</title></head><body>\n{}</body></html>\n",
            doctags::to_html(&doc)
        ),
    }
}

/// A block's box over its page, in percent of the page's width and height (DocTags
/// locations are on a 0..=500 grid of the page).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockBox {
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
}

impl BlockBox {
    pub fn of(block: &Block) -> Option<Self> {
        let [x0, y0, x1, y1] = block.bbox?;
        let pct = |v: u16| f32::from(v.min(500)) / 5.0;
        let (left, right) = (pct(x0.min(x1)), pct(x0.max(x1)));
        let (top, bottom) = (pct(y0.min(y1)), pct(y0.max(y1)));
        Some(Self {
            left,
            top,
            width: right - left,
            height: bottom - top,
        })
    }

    /// The `style` attribute that places it.
    pub fn style(&self) -> String {
        format!(
            "left:{:.1}%;top:{:.1}%;width:{:.1}%;height:{:.1}%",
            self.left, self.top, self.width, self.height
        )
    }
}

/// The blocks a reader sees (page headers and footers are shown as boxes but not as text,
/// as the Markdown leaves them out).
pub fn shown_in_text(block: &Block) -> bool {
    !block.kind.is_furniture()
}

/// A block's kind as DocTags and the JSON export name it (`section_header`).
pub fn kind_name(kind: BlockKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// One block as an HTML fragment (every text escaped by `doctags`), to be shown beside
/// the page.
pub fn block_html(block: &Block) -> String {
    doctags::to_html(&Document {
        pages: vec![Page {
            blocks: vec![block.clone()],
            number: None,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "<doctag><page_header><loc_10><loc_5><loc_200><loc_15>ACME</page_header><section_header_level_1><loc_40><loc_30><loc_460><loc_60>Report</section_header_level_1><text><loc_40><loc_80><loc_460><loc_120>Sales <b>grew</b> & more.</text><otsl><loc_40><loc_140><loc_460><loc_240><fcel>Region<fcel>Sales<nl><fcel>North<fcel>12<nl></otsl></doctag>";

    fn pages() -> Vec<DocPage> {
        vec![
            DocPage {
                number: 3,
                doctags: PAGE.into(),
                done: true,
                ..Default::default()
            },
            // A page still being written: its answer so far.
            DocPage {
                number: 1,
                doctags: "<doctag><text><loc_0><loc_0><loc_500><loc_50>Half a sen".into(),
                ..Default::default()
            },
        ]
    }

    #[test]
    fn boxes_are_percentages_of_the_page() {
        let page = page_of(&pages()[0]);
        let b = BlockBox::of(&page.blocks[1]).unwrap();
        assert_eq!(
            b,
            BlockBox {
                left: 8.0,
                top: 6.0,
                width: 84.0,
                height: 6.0
            }
        );
        assert_eq!(b.style(), "left:8.0%;top:6.0%;width:84.0%;height:6.0%");
        assert!(!shown_in_text(&page.blocks[0]));
        assert_eq!(kind_name(page.blocks[1].kind), "section_header");
        assert!(shown_in_text(&page.blocks[3]));
    }

    #[test]
    fn exports_number_pages_as_the_pdf_does_and_escape_text() {
        let json: serde_json::Value =
            serde_json::from_str(&export(&pages(), Export::Json)).unwrap();
        let numbers: Vec<_> = json["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["page"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, [3, 3, 3, 3, 1]);
        let md = export(&pages(), Export::Markdown);
        assert!(md.starts_with("## Report"), "{md}");
        assert!(md.contains("| North    |      12 |"), "{md}");
        let html = export(&pages(), Export::Html);
        assert!(html.contains("data-page=\"3\""), "{html}");
        assert!(html.contains("grew &amp; more."), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(block_html(&page_of(&pages()[0]).blocks[2]).contains("&amp; more."));
    }
}
