//! What a DocTags answer says, as plain values: pages of blocks, each block one element
//! the model emitted (`<text>`, `<otsl>`, `<picture>`, …) with its location and content.
//!
//! The fields follow what docling-core's `DoclingDocument.load_from_doctags` keeps, so the
//! Markdown export can reproduce docling-core's; what docling-core drops (an unclosed
//! element's text, a picture without a location) is kept here and marked, and each
//! export decides what to show.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// A parsed DocTags answer: one page per `<page_break>`-separated part.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Document {
    pub pages: Vec<Page>,
}

/// One page: its blocks in the order the model emitted them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Page {
    pub blocks: Vec<Block>,
    /// The page's number in its document (from 1), when the pages are not all of it in
    /// order (`--pages 3,1`); None: its place in [`Document::pages`].
    #[serde(skip)]
    pub number: Option<usize>,
}

impl Document {
    /// The number of the `index`th page (from 1).
    pub fn page_number(&self, index: usize) -> usize {
        self.pages
            .get(index)
            .and_then(|p| p.number)
            .unwrap_or(index + 1)
    }
}

/// One element of a page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Block {
    pub kind: BlockKind,
    /// `x0, y0, x1, y1` on the 0..=500 grid of the page: the first four `<loc_N>` tokens
    /// anywhere in the element (a caption's, when the element has none of its own), as
    /// docling-core reads them. Values above 500 are clamped to 500.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[u16; 4]>,
    /// The element's text with every tag removed and the ends trimmed. For code, without
    /// the `<_Language_>` tag. Empty for lists, tables, pictures and inline groups.
    pub text: String,
    /// Section headers: the N of `<section_header_level_N>` (1..=6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    /// Lists: the `<list_item>`s, nested lists flattened into one (as docling-core does).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ListItem>,
    /// Tables (`<otsl>`), and the data of a `<chart>` or `<document_index>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<Table>,
    /// The `<caption>` of a table, picture or chart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<Caption>,
    /// Code: the name in `<_Name_>` as written (`Python`, `unknown`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Pictures and charts: docling-core's class name (`bar_chart`, `photograph`, …),
    /// legacy SmolDocling names mapped as docling-core maps them (`line` → `line_chart`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification: Option<String>,
    /// `<inline>` groups: the elements inside, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Block>,
    /// False when the closing tag never came (a generation that stopped halfway): the
    /// content is what there was up to the end of the page. docling-core keeps only the
    /// element's existence then, and so does the default Markdown export.
    pub complete: bool,
}

impl Block {
    pub(crate) fn new(kind: BlockKind) -> Self {
        Block {
            kind,
            bbox: None,
            text: String::new(),
            level: None,
            items: Vec::new(),
            table: None,
            caption: None,
            language: None,
            classification: None,
            children: Vec::new(),
            complete: true,
        }
    }
}

/// The elements DocTags knows at the top level of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    Title,
    SectionHeader,
    Text,
    Caption,
    Footnote,
    PageHeader,
    PageFooter,
    CheckboxSelected,
    CheckboxUnselected,
    Code,
    Formula,
    OrderedList,
    UnorderedList,
    Table,
    Picture,
    Chart,
    KeyValueRegion,
    DocumentIndex,
    Inline,
}

impl BlockKind {
    /// Page headers and footers are docling-core's "furniture": the exports leave them
    /// out of the reading text (JSON keeps them).
    pub fn is_furniture(self) -> bool {
        matches!(self, BlockKind::PageHeader | BlockKind::PageFooter)
    }
}

/// One `<list_item>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListItem {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[u16; 4]>,
}

/// A `<caption>` inside a table, picture or chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caption {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[u16; 4]>,
}

/// A table built from OTSL: the cells where a cell starts, with their spans. Serialized
/// as `num_rows`, `num_cols` and `rows`: per grid row, the cells that start in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub num_rows: usize,
    pub num_cols: usize,
    /// In DocTags order. A cell may start outside `num_rows` × `num_cols` (docling-core
    /// counts rows two ways, see `otsl`); such a cell is kept here and never shown.
    pub cells: Vec<Cell>,
}

/// One cell of a table, at its top-left grid position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub row: usize,
    pub col: usize,
    pub row_span: usize,
    pub col_span: usize,
    pub text: String,
    pub kind: CellKind,
}

/// The OTSL token a cell started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CellKind {
    /// `<fcel>`
    Data,
    /// `<ecel>`
    Empty,
    /// `<ched>`
    ColumnHeader,
    /// `<rhed>`
    RowHeader,
    /// `<srow>`
    SectionRow,
}

/// Grids larger than this are cut to their first rows: docling-core refuses a table
/// declaring more than a million grid positions (`settings.max_table_cells`), and a
/// garbled answer must not make us allocate gigabytes.
pub const MAX_GRID_CELLS: usize = 1_000_000;

impl Table {
    /// The grid as docling-core's `TableData.grid` builds it: every position a cell
    /// covers points to that cell (a spanned cell repeats), later cells overwrite
    /// earlier ones, `None` where no cell reaches. At most [`MAX_GRID_CELLS`] positions.
    pub fn grid(&self) -> Vec<Vec<Option<&Cell>>> {
        let rows = MAX_GRID_CELLS
            .checked_div(self.num_cols)
            .map_or(self.num_rows.min(MAX_GRID_CELLS), |fit| {
                self.num_rows.min(fit)
            });
        let mut grid = vec![vec![None; self.num_cols]; rows];
        for cell in &self.cells {
            let row_end = (cell.row + cell.row_span).min(rows);
            let col_end = (cell.col + cell.col_span).min(self.num_cols);
            for grid_row in grid.iter_mut().take(row_end).skip(cell.row) {
                for slot in grid_row.iter_mut().take(col_end).skip(cell.col) {
                    *slot = Some(cell);
                }
            }
        }
        grid
    }
}

impl Serialize for Table {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut rows: Vec<Vec<&Cell>> = vec![Vec::new(); self.num_rows];
        for cell in &self.cells {
            if let Some(row) = rows.get_mut(cell.row) {
                row.push(cell);
            }
        }
        let mut table = serializer.serialize_struct("Table", 3)?;
        table.serialize_field("num_rows", &self.num_rows)?;
        table.serialize_field("num_cols", &self.num_cols)?;
        table.serialize_field("rows", &rows)?;
        table.end()
    }
}
