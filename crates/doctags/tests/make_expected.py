#!/usr/bin/env python3
"""Write docling-core's own Markdown for every DocTags sample in tests/corpus/.

For each `corpus/NAME.dt` this writes `corpus/NAME.md`: the bytes of
`DoclingDocument.load_from_doctags(...).export_to_markdown()` with default arguments,
the pages split on `<page_break>` as docling-core's
`DocTagsDocument.from_multipage_doctags_and_images` does, and no page images (a
model's answer without the picture it came from). `tests/corpus.rs` holds the Rust
crate to these files byte for byte. CI never runs this script; the outputs are
committed.

Set up once, from the repository root (PyPI only; the versions are pinned because
Markdown tables come from `tabulate` and both libraries change their output):

    python3 -m venv .venv
    .venv/bin/pip install docling-core==2.104.0 tabulate==0.10.0
    .venv/bin/python crates/doctags/tests/make_expected.py

`wcwidth` must not be installed: with it, tabulate measures East Asian wide
characters as two columns, and the Rust crate counts code points as tabulate does
without it. The script refuses to run when the versions differ.
"""

import importlib.metadata
import importlib.util
import sys
from pathlib import Path

DOCLING_CORE = "2.104.0"
TABULATE = "0.10.0"


def check_versions() -> None:
    found = {
        "docling-core": importlib.metadata.version("docling-core"),
        "tabulate": importlib.metadata.version("tabulate"),
    }
    wanted = {"docling-core": DOCLING_CORE, "tabulate": TABULATE}
    if found != wanted:
        sys.exit(f"need {wanted}, found {found}: see this script's docstring")
    if importlib.util.find_spec("wcwidth") is not None:
        sys.exit("uninstall wcwidth: tabulate would measure wide characters differently")


def markdown_of(doctags: str) -> str:
    from docling_core.types.doc import DoclingDocument
    from docling_core.types.doc.document import DocTagsDocument

    pages = DocTagsDocument.from_multipage_doctags_and_images(doctags, None)
    return DoclingDocument.load_from_doctags(pages).export_to_markdown()


def main() -> None:
    check_versions()
    corpus = Path(__file__).resolve().parent / "corpus"
    samples = sorted(corpus.glob("*.dt"))
    if not samples:
        sys.exit(f"no samples in {corpus}")
    for sample in samples:
        # Bytes, not text mode: no newline translation either way.
        doctags = sample.read_bytes().decode("utf-8")
        out = sample.with_suffix(".md")
        out.write_bytes(markdown_of(doctags).encode("utf-8"))
        print(f"wrote {out.relative_to(corpus.parent.parent)}")


if __name__ == "__main__":
    main()
