//! Markdown pipe tables as docling-core writes them: `tabulate(body, headers=first_row,
//! tablefmt="github", disable_numparse=True, colalign=…)` (tabulate 0.10), with a column
//! right-aligned when tabulate's `_column_type` calls its body numeric.
//!
//! Column widths: the longest (stripped) body cell, and at least the header plus two;
//! each cell padded by one space on both sides. Widths count code points, as tabulate
//! does without the optional `wcwidth` package. Not reproduced, because no DocTags answer
//! should hold them: ANSI escape codes (tabulate measures around them), a `\r` in a cell
//! (its multi-line mode) and a cell that is exactly `\x01` (its separating-line marker).
//! Numbers are recognised in ASCII digits only, where Python also accepts other scripts'.

use crate::lexer::py_strip;

/// Renders `rows` (the first row is the header; all rows as long as the header).
pub(crate) fn render(rows: &[Vec<String>]) -> String {
    let Some((header, body)) = rows.split_first() else {
        return String::new();
    };
    let right: Vec<bool> = (0..header.len())
        .map(|col| !body.is_empty() && is_numeric_column(body.iter().map(|row| row[col].as_str())))
        .collect();
    let body: Vec<Vec<&str>> = body
        .iter()
        .map(|row| row.iter().map(|cell| py_strip(cell)).collect())
        .collect();
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(col, h)| {
            let widest = body.iter().map(|row| width(row[col])).max().unwrap_or(0);
            widest.max(width(h) + 2)
        })
        .collect();

    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::from("|");
        for (col, cell) in cells.enumerate() {
            out.push(' ');
            let pad = " ".repeat(widths[col].saturating_sub(width(cell)));
            if right[col] {
                out.push_str(&pad);
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&pad);
            }
            out.push_str(" |");
        }
        out
    };
    let mut lines = vec![line(&mut header.iter().map(String::as_str))];
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    lines.push(format!("|{}|", rule.join("|")));
    for row in &body {
        lines.push(line(&mut row.iter().copied()));
    }
    lines.join("\n")
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// tabulate's types, least generic first; a column is the most generic of its cells,
/// starting from `bool` (so an all-empty column is `bool`, not numeric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum CellType {
    None,
    Bool,
    Int,
    Float,
    Str,
}

fn is_numeric_column<'a>(cells: impl Iterator<Item = &'a str>) -> bool {
    let kind = cells.map(cell_type).fold(CellType::Bool, CellType::max);
    matches!(kind, CellType::Int | CellType::Float)
}

/// tabulate's `_type(s)` for a string, numbers parsed.
fn cell_type(s: &str) -> CellType {
    if s.is_empty() {
        CellType::None
    } else if s == "True" || s == "False" {
        CellType::Bool
    } else if py_int(s) || (thousands(s) && !s.contains('.')) {
        CellType::Int
    } else if py_number(s) || thousands(s) {
        CellType::Float
    } else {
        CellType::Str
    }
}

/// ASCII digits with single underscores between them, as Python's `int()` and `float()`
/// accept; at least one digit.
fn digit_part(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

fn unsigned(s: &str) -> &str {
    s.strip_prefix(['+', '-']).unwrap_or(s)
}

/// Python's `int(s)` succeeds.
fn py_int(s: &str) -> bool {
    digit_part(unsigned(py_strip(s)))
}

/// Python's `float(s)` succeeds and tabulate's `_isnumber` keeps it: not an overflow to
/// infinity and not NaN, except the spellings `inf`, `-inf` and `nan` (any case).
fn py_number(s: &str) -> bool {
    let t = py_strip(s);
    let magnitude = unsigned(t).to_ascii_lowercase();
    if matches!(magnitude.as_str(), "inf" | "infinity" | "nan") {
        return matches!(s.to_lowercase().as_str(), "inf" | "-inf" | "nan");
    }
    let (mantissa, exponent) = match magnitude.find('e') {
        Some(e) => (&magnitude[..e], Some(&magnitude[e + 1..])),
        None => (magnitude.as_str(), None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.is_empty() || digit_part(int))
                && (frac.is_empty() || digit_part(frac))
                && !(int.is_empty() && frac.is_empty())
        }
        None => digit_part(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digit_part(unsigned(e)));
    if !(mantissa_ok && exponent_ok) {
        return false;
    }
    t.replace('_', "").parse::<f64>().is_ok_and(f64::is_finite)
}

/// tabulate's `_float_with_thousands_separators`:
/// `^(([+-]?[0-9]{1,3})(?:,([0-9]{3}))*)?(?(1)\.[0-9]*|\.[0-9]+)?$`.
fn thousands(s: &str) -> bool {
    let (int, frac) = match s.find('.') {
        Some(dot) => (&s[..dot], Some(&s[dot + 1..])),
        None => (s, None),
    };
    let has_int = !int.is_empty();
    if has_int {
        let mut groups = unsigned(int).split(',');
        let first = groups.next().unwrap_or("");
        let digits = |g: &str| g.bytes().all(|b| b.is_ascii_digit());
        if !(1..=3).contains(&first.len())
            || !digits(first)
            || !groups.all(|g| g.len() == 3 && digits(g))
        {
            return false;
        }
    }
    match frac {
        None => true,
        Some(f) => f.bytes().all(|b| b.is_ascii_digit()) && (has_int || !f.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_number_spellings() {
        for s in ["1", "-20", "+7", "1_000", "007"] {
            assert_eq!(cell_type(s), CellType::Int, "{s}");
        }
        for s in [
            "1.5", ".5", "5.", "1E5", "+1e-3", "12,345.6", "nan", "NaN", "-inf", "1_0.5_5",
        ] {
            assert_eq!(cell_type(s), CellType::Float, "{s}");
        }
        for s in [
            "1__0", "_1", "1,0000", "Infinity", "+inf", "-nan", "1e400", "1e", "0x10", "--1", ".",
        ] {
            assert_eq!(cell_type(s), CellType::Str, "{s}");
        }
        assert_eq!(cell_type("1,000"), CellType::Int);
        assert_eq!(cell_type("True"), CellType::Bool);
    }

    #[test]
    fn numeric_columns_align_right_and_headers_follow() {
        let rows = vec![
            vec!["Name".to_string(), "Value".to_string()],
            vec!["a".to_string(), "1".to_string()],
        ];
        assert_eq!(
            render(&rows),
            "| Name   |   Value |\n|--------|---------|\n| a      |       1 |"
        );
    }

    #[test]
    fn header_only_table() {
        let rows = vec![vec!["x".to_string(), String::new()]];
        assert_eq!(render(&rows), "| x   |    |\n|-----|----|");
    }
}
