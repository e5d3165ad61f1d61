//! SVG rendering (feature `svg`): verdict badges and OG images, with every text drawn as
//! paths from the bundled DejaVu Sans (see `text.rs` for why).

mod badge;
mod og;
mod text;

pub use badge::badge_svg;
pub use og::{og_compare_svg, og_tool_svg, OG_HEIGHT, OG_WIDTH};
pub use text::Weight as FontWeight;

/// Width in pixels of `text` at `size` in the bundled DejaVu Sans (advances and `kern`
/// pairs): what badges and OG images lay out with.
pub fn text_width(text: &str, size: f32, weight: FontWeight) -> f32 {
    text::font(weight).width(text, size)
}

/// The bundled TTF itself (e.g. to give resvg's font database the same font).
pub fn font_data(weight: FontWeight) -> &'static [u8] {
    text::font_data(weight)
}

/// SVG path data of `text` at `size` in the bundled DejaVu Sans, baseline starting at
/// (`x`, `y`): text that renders without any font installed.
pub fn text_path(text: &str, x: f32, y: f32, size: f32, weight: FontWeight) -> String {
    text::font(weight).path(text, x, y, size)
}

use crate::model::Verdict;

/// Fill of a verdict pill; white text on each passes WCAG AA (≥ 4.5:1).
pub(crate) fn verdict_fill(v: Verdict) -> &'static str {
    match v {
        Verdict::Ship => "#15803d",  // 5.0:1 with white
        Verdict::Skip => "#b91c1c",  // 6.5:1
        Verdict::Split => "#b45309", // 5.0:1
    }
}

/// The brand colour of the mark.
pub(crate) const BRAND: &str = "#4338ca";

/// The brand mark: a rounded square with a check, `size` pixels, at (`x`, `y`).
pub(crate) fn brand_mark(x: f32, y: f32, size: f32) -> String {
    use text::num;
    let s = size / 52.0;
    let p = |px: f32, py: f32| format!("{} {}", num(x + px * s), num(y + py * s));
    format!(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"{BRAND}\"/>\
         <path d=\"M{}L{}L{}\" fill=\"none\" stroke=\"#ffffff\" stroke-width=\"{}\" \
         stroke-linecap=\"round\" stroke-linejoin=\"round\"/>",
        num(x),
        num(y),
        num(size),
        num(size),
        num(12.0 * s),
        p(14.0, 27.0),
        p(23.0, 36.0),
        p(39.0, 17.0),
        num(6.0 * s),
    )
}

/// A prefix for ids inside one SVG, unique per slug and variant, so that two SVGs inlined
/// in one page never share an id. Slugs are already `[a-z0-9-]`; anything else is
/// replaced so the id stays a valid XML name.
pub(crate) fn id_prefix(kind: &str, slug: &str, variant: &str) -> String {
    let clean: String = slug
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{kind}-{clean}{variant}")
}
