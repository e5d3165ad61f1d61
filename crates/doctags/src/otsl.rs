//! OTSL (Optimised Table Structure Language) to a table of spanned cells.
//!
//! A row is a run of cell tokens ended by `<nl>`: `<fcel>` (a cell with text), `<ecel>`
//! (empty), `<ched>`/`<rhed>`/`<srow>` (column header, row header, section row), and the
//! three that continue a cell instead of starting one: `<lcel>` (merged with the cell on
//! the left), `<ucel>` (with the cell above), `<xcel>` (both). A starting cell's column
//! span counts the `<lcel>`/`<xcel>` to its right, its row span the `<ucel>`/`<xcel>`
//! below it.
//!
//! This follows docling-core's `otsl_parse_texts` step by step (reference:
//! `docling_core/types/doc/utils.py`), quirks included, because its Markdown is the
//! reference: rows are counted twice (the grid's size ignores empty rows, `<nl><nl>`, while
//! cell positions count every `<nl>`), and a cell's text is whatever piece follows its
//! token, so `<fcel><fcel>x` gives the first cell the text `<fcel>`. Where docling-core
//! would raise `IndexError` (a `<fcel>` that ends the table, a span running into a shorter
//! row) this reads an empty text or stops the span.

use crate::document::{Cell, CellKind, Table};
use crate::lexer::{py_strip, split_angle_tags, Piece};

const NL: &str = "<nl>";

fn starts_cell(token: &str) -> Option<CellKind> {
    Some(match token {
        "<fcel>" => CellKind::Data,
        "<ecel>" => CellKind::Empty,
        "<ched>" => CellKind::ColumnHeader,
        "<rhed>" => CellKind::RowHeader,
        "<srow>" => CellKind::SectionRow,
        _ => return None,
    })
}

fn continues_left(token: &str) -> bool {
    matches!(token, "<lcel>" | "<xcel>")
}

fn continues_up(token: &str) -> bool {
    matches!(token, "<ucel>" | "<xcel>")
}

fn is_structure(token: &str) -> bool {
    token == NL || starts_cell(token).is_some() || matches!(token, "<lcel>" | "<ucel>" | "<xcel>")
}

/// Tokens that are not part of the table at all: locations and the `<otsl>` wrapper.
fn is_dropped(piece: &str) -> bool {
    piece.starts_with("<loc_") || piece == "<otsl>" || piece == "</otsl>"
}

/// The table in `chunk` (an `<otsl>…</otsl>` element, or a chart's whole element).
pub(crate) fn parse(chunk: &str) -> Table {
    let pieces = split_angle_tags(chunk);
    // docling-core's two lists: the structure tokens alone, split into rows…
    let mut rows: Vec<Vec<&str>> = Vec::new();
    let mut row_open = false;
    for token in pieces.iter().filter_map(|p| match p {
        Piece::Tag(t) if !is_dropped(t) && is_structure(t) => Some(*t),
        _ => None,
    }) {
        if token == NL {
            row_open = false;
        } else {
            if !row_open {
                rows.push(Vec::new());
                row_open = true;
            }
            rows.last_mut().expect("a row was just opened").push(token);
        }
    }
    // …and every tag and non-blank text in order, which the cells are read from.
    let texts: Vec<&str> = pieces
        .iter()
        .map(|p| p.as_str())
        .filter(|p| !is_dropped(p) && !py_strip(p).is_empty())
        .collect();

    let at = |r: usize, c: usize| rows.get(r).and_then(|row| row.get(c)).copied();
    let mut cells = Vec::new();
    let (mut r, mut c) = (0, 0);
    for (i, &text) in texts.iter().enumerate() {
        if let Some(kind) = starts_cell(text) {
            let (cell_text, right) = if kind == CellKind::Empty {
                ("", i + 1)
            } else {
                (texts.get(i + 1).copied().unwrap_or(""), i + 2)
            };
            let mut col_span = 1;
            if texts.get(right).is_some_and(|t| continues_left(t)) {
                col_span += (c + 1..)
                    .take_while(|&cc| at(r, cc).is_some_and(continues_left))
                    .count();
            }
            let mut row_span = 1;
            if at(r + 1, c).is_some_and(continues_up) {
                row_span += (r + 1..)
                    .take_while(|&rr| at(rr, c).is_some_and(continues_up))
                    .count();
            }
            cells.push(Cell {
                row: r,
                col: c,
                row_span,
                col_span,
                text: py_strip(cell_text).to_string(),
                kind,
            });
        }
        if text == NL {
            r += 1;
            c = 0;
        } else if is_structure(text) {
            c += 1;
        }
    }
    Table {
        num_rows: rows.len(),
        num_cols: rows.iter().map(Vec::len).max().unwrap_or(0),
        cells,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(t: &Table) -> Vec<(usize, usize, usize, usize, &str)> {
        t.cells
            .iter()
            .map(|c| (c.row, c.col, c.row_span, c.col_span, c.text.as_str()))
            .collect()
    }

    #[test]
    fn merged_cells_span_right_down_and_both() {
        let t = parse(
            "<otsl><fcel>a<lcel><fcel>b<nl><xcel><xcel><ucel><nl><fcel>c<fcel>d<fcel>e<nl></otsl>",
        );
        assert_eq!((t.num_rows, t.num_cols), (3, 3));
        assert_eq!(
            spans(&t),
            [
                (0, 0, 2, 2, "a"),
                (0, 2, 2, 1, "b"),
                (2, 0, 1, 1, "c"),
                (2, 1, 1, 1, "d"),
                (2, 2, 1, 1, "e")
            ]
        );
    }

    #[test]
    fn an_empty_data_cell_takes_the_next_token_as_text() {
        let t = parse("<otsl><fcel><fcel>x<nl></otsl>");
        assert_eq!(spans(&t), [(0, 0, 1, 1, "<fcel>"), (0, 1, 1, 1, "x")]);
    }

    #[test]
    fn empty_rows_count_for_positions_but_not_for_size() {
        let t = parse("<otsl><fcel>a<nl><nl><fcel>b<nl></otsl>");
        assert_eq!((t.num_rows, t.num_cols), (2, 1));
        assert_eq!(spans(&t), [(0, 0, 1, 1, "a"), (2, 0, 1, 1, "b")]);
    }

    #[test]
    fn a_table_cut_mid_row_keeps_what_came() {
        let t = parse("<otsl><loc_1><ched>a<ched>b<nl><fcel>1<fcel>");
        assert_eq!((t.num_rows, t.num_cols), (2, 2));
        assert_eq!(spans(&t)[2..], [(1, 0, 1, 1, "1"), (1, 1, 1, 1, "")]);
        assert_eq!(t.cells[0].kind, CellKind::ColumnHeader);
    }
}
