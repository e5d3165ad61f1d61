//! `--pages` and `?pages=`: page ranges as people write them, and the words for mistakes.

use pdf_pages::{PageRange, PdfError};

fn pages(text: &str, count: usize) -> Result<Vec<usize>, PdfError> {
    PageRange::parse(text)?.pages(count)
}

/// The reason of a `BadPageRange` error, as the user reads it.
fn reason(text: &str) -> String {
    let err = PageRange::parse(text).unwrap_err();
    let PdfError::BadPageRange { range, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(range, text);
    err.to_string()
}

#[test]
fn pages_are_counted_from_one_and_come_back_from_zero() {
    assert_eq!(pages("1-3,7", 10).unwrap(), [0, 1, 2, 6]);
    assert_eq!(pages("2", 2).unwrap(), [1]);
    assert_eq!(pages(" 1 - 2 , 4 ", 4).unwrap(), [0, 1, 3]);
}

#[test]
fn all_or_nothing_means_every_page() {
    for text in ["all", "ALL", "", "  "] {
        assert_eq!(pages(text, 3).unwrap(), [0, 1, 2], "{text:?}");
    }
    assert_eq!(PageRange::parse("").unwrap(), PageRange::all());
    assert_eq!("1-2".parse::<PageRange>().unwrap().to_string(), "1-2");
}

#[test]
fn open_ranges_run_to_the_end_or_from_the_start() {
    assert_eq!(pages("5-", 7).unwrap(), [4, 5, 6]);
    assert_eq!(pages("-3", 7).unwrap(), [0, 1, 2]);
    assert_eq!(pages("3-", 3).unwrap(), [2]);
}

#[test]
fn pages_keep_the_order_written_and_come_once() {
    assert_eq!(pages("7,1-3", 7).unwrap(), [6, 0, 1, 2]);
    assert_eq!(pages("3,1-3,2", 3).unwrap(), [2, 0, 1]);
}

#[test]
fn page_zero_is_refused() {
    assert_eq!(
        reason("0"),
        "page range \"0\": pages are counted from 1: there is no page 0"
    );
    assert_eq!(
        reason("0-3"),
        "page range \"0-3\": pages are counted from 1: there is no page 0"
    );
}

#[test]
fn a_range_that_runs_backwards_is_refused() {
    assert_eq!(
        reason("5-3"),
        "page range \"5-3\": \"5-3\" runs backwards: write 3-5"
    );
}

#[test]
fn a_page_past_the_last_is_refused_not_dropped() {
    assert_eq!(
        pages("1-10", 3).unwrap_err(),
        PdfError::PageOutOfRange { page: 10, count: 3 }
    );
    assert_eq!(
        pages("5-", 3).unwrap_err(),
        PdfError::PageOutOfRange { page: 5, count: 3 }
    );
    assert_eq!(
        pages("2,4", 3).unwrap_err().to_string(),
        "there is no page 4: this PDF has 3 pages"
    );
}

#[test]
fn junk_is_refused_with_what_was_wrong() {
    assert_eq!(
        reason("1-3,x"),
        "page range \"1-3,x\": \"x\" is not a page number"
    );
    assert_eq!(
        reason("1.5"),
        "page range \"1.5\": \"1.5\" is not a page number"
    );
    assert_eq!(
        reason("+2"),
        "page range \"+2\": \"+2\" is not a page number"
    );
    assert_eq!(
        reason("1-2-3"),
        "page range \"1-2-3\": \"2-3\" is not a page number"
    );
    assert_eq!(
        reason("1,,2"),
        "page range \"1,,2\": an item between commas is empty"
    );
    assert_eq!(
        reason("3,"),
        "page range \"3,\": an item between commas is empty"
    );
    assert_eq!(
        reason("-"),
        "page range \"-\": \"-\" names no page: write for example 2-5"
    );
    assert_eq!(
        reason("99999999999999999999999"),
        "page range \"99999999999999999999999\": 99999999999999999999999 is far past the last \
         page of any document"
    );
}
