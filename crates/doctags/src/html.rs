//! An HTML fragment for showing a document on a page: every text escaped, no script, no
//! style, no outside reference, so it can be inserted as it is.
//!
//! It shows what the Markdown shows (page headers and footers left out), in HTML's own
//! terms: real row and column spans, `<th>` for header cells, `<figure>` for pictures.
//! Unlike docling-core's Markdown it keeps what an unclosed element held so far (marked
//! `data-unfinished`), and pictures without a location. Each page is a
//! `<section class="doctags-page" data-page="N">`; each block carries its location as
//! `data-bbox="x0 y0 x1 y1"` (0..=500), for overlays on the picture.

use crate::document::{Block, BlockKind, CellKind, Document, Table};
use std::fmt::Write;

/// The HTML fragment for `doc`.
pub fn to_html(doc: &Document) -> String {
    let mut out = String::new();
    for (i, page) in doc.pages.iter().enumerate() {
        let _ = writeln!(
            out,
            "<section class=\"doctags-page\" data-page=\"{}\">",
            doc.page_number(i)
        );
        for block in &page.blocks {
            write_block(&mut out, block);
        }
        out.push_str("</section>\n");
    }
    out
}

/// `&`, `<`, `>` and both quotes, so the text is safe in content and attributes alike.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escaped, with line breaks kept.
fn lines(text: &str) -> String {
    escape(text).replace('\n', "<br>\n")
}

/// ` class="…"` (if any), `data-bbox`, `data-unfinished`.
fn attrs(block: &Block, class: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(class) = class {
        let _ = write!(out, " class=\"{class}\"");
    }
    if let Some([x0, y0, x1, y1]) = block.bbox {
        let _ = write!(out, " data-bbox=\"{x0} {y0} {x1} {y1}\"");
    }
    if !block.complete {
        out.push_str(" data-unfinished");
    }
    out
}

fn write_block(out: &mut String, block: &Block) {
    let a = |class| attrs(block, class);
    let _ = match block.kind {
        BlockKind::PageHeader | BlockKind::PageFooter => Ok(()),
        BlockKind::Title | BlockKind::SectionHeader => {
            let h = heading_level(block);
            writeln!(out, "<h{h}{}>{}</h{h}>", a(None), escape(&block.text))
        }
        BlockKind::Text => writeln!(out, "<p{}>{}</p>", a(None), lines(&block.text)),
        BlockKind::Caption => writeln!(out, "<p{}>{}</p>", a(Some("caption")), lines(&block.text)),
        BlockKind::Footnote => {
            writeln!(out, "<p{}>{}</p>", a(Some("footnote")), lines(&block.text))
        }
        BlockKind::KeyValueRegion => {
            writeln!(
                out,
                "<p{}>{}</p>",
                a(Some("key-value-region")),
                lines(&block.text)
            )
        }
        BlockKind::CheckboxSelected | BlockKind::CheckboxUnselected => {
            writeln!(out, "<p{}>{}</p>", a(Some("checkbox")), checkbox(block))
        }
        BlockKind::Code => writeln!(out, "<pre{}>{}</pre>", a(None), code(block)),
        BlockKind::Formula => writeln!(
            out,
            "<div{}>$${}$$</div>",
            a(Some("formula")),
            escape(&block.text)
        ),
        BlockKind::OrderedList | BlockKind::UnorderedList => {
            let tag = if block.kind == BlockKind::OrderedList {
                "ol"
            } else {
                "ul"
            };
            let _ = writeln!(out, "<{tag}{}>", a(None));
            for item in &block.items {
                let _ = writeln!(out, "<li>{}</li>", lines(&item.text));
            }
            writeln!(out, "</{tag}>")
        }
        BlockKind::Table => {
            write_table(out, block, &a(None));
            Ok(())
        }
        BlockKind::DocumentIndex => match &block.table {
            Some(table) if table.num_rows > 0 => {
                write_table(out, block, &a(Some("document-index")));
                Ok(())
            }
            _ => writeln!(
                out,
                "<p{}>{}</p>",
                a(Some("document-index")),
                lines(&block.text)
            ),
        },
        BlockKind::Picture | BlockKind::Chart => {
            let mut attributes = a(Some(if block.kind == BlockKind::Chart {
                "chart"
            } else {
                "picture"
            }));
            if let Some(class) = &block.classification {
                let _ = write!(attributes, " data-class=\"{}\"", escape(class));
            }
            let _ = writeln!(out, "<figure{attributes}>");
            if let Some(table) = block.table.as_ref().filter(|t| t.num_rows > 0) {
                write_grid(out, table, "");
            }
            if let Some(caption) = block.caption.as_ref().filter(|c| !c.text.is_empty()) {
                let _ = writeln!(out, "<figcaption>{}</figcaption>", lines(&caption.text));
            }
            writeln!(out, "</figure>")
        }
        BlockKind::Inline => {
            let pieces: Vec<String> = block
                .children
                .iter()
                .map(inline)
                .filter(|s| !s.is_empty())
                .collect();
            writeln!(out, "<p{}>{}</p>", a(None), pieces.join(" "))
        }
    };
}

fn heading_level(block: &Block) -> usize {
    match block.kind {
        BlockKind::Title => 1,
        _ => (usize::from(block.level.unwrap_or(1)) + 1).min(6),
    }
}

fn checkbox(block: &Block) -> String {
    let checked = if block.kind == BlockKind::CheckboxSelected {
        " checked"
    } else {
        ""
    };
    format!(
        "<input type=\"checkbox\" disabled{checked}> {}",
        lines(&block.text)
    )
}

fn code(block: &Block) -> String {
    match block.language.as_deref().filter(|l| *l != "unknown") {
        Some(language) => format!(
            "<code class=\"language-{}\">{}</code>",
            escape(&language.to_lowercase()),
            escape(&block.text)
        ),
        None => format!("<code>{}</code>", escape(&block.text)),
    }
}

fn inline(block: &Block) -> String {
    match block.kind {
        BlockKind::PageHeader | BlockKind::PageFooter => String::new(),
        BlockKind::Code => format!("<code>{}</code>", escape(&block.text)),
        BlockKind::Formula if block.text.is_empty() => String::new(),
        BlockKind::Formula => format!("<span class=\"formula\">${}$</span>", escape(&block.text)),
        BlockKind::CheckboxSelected | BlockKind::CheckboxUnselected => checkbox(block),
        _ => lines(&block.text),
    }
}

fn write_table(out: &mut String, block: &Block, attributes: &str) {
    let Some(table) = &block.table else {
        return;
    };
    let caption = block.caption.as_ref().filter(|c| !c.text.is_empty());
    if table.num_rows == 0 && caption.is_none() {
        return;
    }
    let caption = caption.map(|c| format!("<caption>{}</caption>\n", lines(&c.text)));
    write_grid(
        out,
        table,
        &format!("{attributes}>\n{}", caption.unwrap_or_default()),
    );
}

/// `<table` + `open` (the rest of the opening tag and a caption) + rows. Spans are
/// measured on docling-core's grid (a cell covers the rectangle of positions that point
/// to it), so cells that overlap in garbled OTSL still give a well-formed table.
fn write_grid(out: &mut String, table: &Table, open: &str) {
    out.push_str("<table");
    out.push_str(if open.is_empty() { ">\n" } else { open });
    let grid = table.grid();
    let mut covered = vec![vec![false; table.num_cols]; grid.len()];
    for r in 0..grid.len() {
        out.push_str("<tr>");
        for c in 0..table.num_cols {
            if covered[r][c] {
                continue;
            }
            let Some(cell) = grid[r][c] else {
                out.push_str("<td></td>");
                continue;
            };
            let same = |rr: usize, cc: usize| {
                !covered[rr][cc] && grid[rr][cc].is_some_and(|other| std::ptr::eq(other, cell))
            };
            let col_span = (c..table.num_cols).take_while(|&cc| same(r, cc)).count();
            let row_span = (r..grid.len())
                .take_while(|&rr| (c..c + col_span).all(|cc| same(rr, cc)))
                .count();
            for row in &mut covered[r..r + row_span] {
                row[c..c + col_span].fill(true);
            }
            let (tag, scope) = match cell.kind {
                CellKind::ColumnHeader => ("th", " scope=\"col\""),
                CellKind::RowHeader => ("th", " scope=\"row\""),
                CellKind::SectionRow => ("th", " scope=\"rowgroup\""),
                CellKind::Data | CellKind::Empty => ("td", ""),
            };
            let _ = write!(out, "<{tag}{scope}");
            if row_span > 1 {
                let _ = write!(out, " rowspan=\"{row_span}\"");
            }
            if col_span > 1 {
                let _ = write!(out, " colspan=\"{col_span}\"");
            }
            let _ = write!(out, ">{}</{tag}>", lines(&cell.text));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}
