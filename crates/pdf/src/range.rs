//! Page ranges as people write them in print dialogs: `1-3,7`, `5-`, `-3`, `all`.

use std::str::FromStr;

use crate::PdfError;

/// The pages someone asked for, counted from 1 as they wrote them. Parsing checks the
/// text alone (it comes before the file, from `--pages` or `?pages=`); [`PageRange::pages`]
/// then checks it against the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRange {
    text: String,
    /// First and last page of each comma-separated item; `None`: to the last page.
    items: Vec<(usize, Option<usize>)>,
}

impl PageRange {
    /// Every page.
    pub fn all() -> Self {
        Self {
            text: "all".into(),
            items: vec![(1, None)],
        }
    }

    /// `all` or nothing (blank) means every page; otherwise comma-separated items, each a
    /// page (`7`), a closed range (`1-3`), or an open one (`5-` to the end, `-3` from the
    /// start). Spaces around numbers are allowed.
    pub fn parse(text: &str) -> Result<Self, PdfError> {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("all") {
            return Ok(Self::all());
        }
        let bad = |reason: String| PdfError::BadPageRange {
            range: text.into(),
            reason,
        };
        let items = trimmed
            .split(',')
            .map(|item| parse_item(item.trim()).map_err(bad))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            text: trimmed.into(),
            items,
        })
    }

    /// The pages to render for a document of `page_count` pages: 0-based indices in the
    /// order written, each once (`3,1-3` gives pages 3, 1, 2). A page past the last one
    /// is an error rather than quietly dropped: the user meant some other file or page.
    pub fn pages(&self, page_count: usize) -> Result<Vec<usize>, PdfError> {
        let mut seen = vec![false; page_count];
        let mut pages = Vec::new();
        for &(first, last) in &self.items {
            let last = last.unwrap_or(page_count);
            let past_end = first.max(last);
            if past_end > page_count {
                return Err(PdfError::PageOutOfRange {
                    page: past_end,
                    count: page_count,
                });
            }
            for (index, seen) in seen.iter_mut().enumerate().take(last).skip(first - 1) {
                if !std::mem::replace(seen, true) {
                    pages.push(index);
                }
            }
        }
        Ok(pages)
    }
}

impl FromStr for PageRange {
    type Err = PdfError;

    fn from_str(text: &str) -> Result<Self, PdfError> {
        Self::parse(text)
    }
}

impl std::fmt::Display for PageRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// One comma-separated item, already trimmed; the error is the reason, in words.
fn parse_item(item: &str) -> Result<(usize, Option<usize>), String> {
    if item.is_empty() {
        return Err("an item between commas is empty".into());
    }
    let Some((first, last)) = item.split_once('-') else {
        let page = page_number(item)?;
        return Ok((page, Some(page)));
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() && last.is_empty() {
        return Err("\"-\" names no page: write for example 2-5".into());
    }
    let first = if first.is_empty() {
        1
    } else {
        page_number(first)?
    };
    let last = if last.is_empty() {
        None
    } else {
        Some(page_number(last)?)
    };
    if let Some(last) = last.filter(|&last| last < first) {
        return Err(format!("\"{item}\" runs backwards: write {last}-{first}"));
    }
    Ok((first, last))
}

fn page_number(text: &str) -> Result<usize, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("\"{text}\" is not a page number"));
    }
    match text.parse::<usize>() {
        Ok(0) => Err("pages are counted from 1: there is no page 0".into()),
        Ok(page) => Ok(page),
        Err(_) => Err(format!("{text} is far past the last page of any document")),
    }
}
