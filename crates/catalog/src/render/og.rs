//! OpenGraph images (1200×630) as SVG, text as paths, for resvg to rasterize to PNG.

use super::text::{font, num, Font, Weight};
use super::{brand_mark, id_prefix, verdict_fill};
use crate::embed::xml_escape;
use crate::model::{Panel, Tool};
use crate::SITE_NAME;
use std::fmt::Write as _;

pub const OG_WIDTH: u32 = 1200;
pub const OG_HEIGHT: u32 = 630;

const BG: &str = "#f8fafc";
const TEXT: &str = "#111827";
const MUTED: &str = "#4b5563";

fn open(out: &mut String, label: &str, id: &str) {
    let label = xml_escape(label);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{OG_WIDTH}\" height=\"{OG_HEIGHT}\" \
         viewBox=\"0 0 {OG_WIDTH} {OG_HEIGHT}\" role=\"img\" aria-label=\"{label}\">\
         <title id=\"{id}-title\">{label}</title>\
         <rect width=\"{OG_WIDTH}\" height=\"{OG_HEIGHT}\" fill=\"{BG}\"/>\
         <rect width=\"{OG_WIDTH}\" height=\"12\" fill=\"{}\"/>",
        super::BRAND
    );
    out.push_str(&brand_mark(64.0, 56.0, 56.0));
    text(out, font(Weight::Bold), SITE_NAME, 136.0, 96.0, 30.0, TEXT);
}

fn text(out: &mut String, f: &Font, s: &str, x: f32, y: f32, size: f32, fill: &str) {
    let _ = write!(
        out,
        "<path fill=\"{fill}\" d=\"{}\"/>",
        f.path(s, x, y, size)
    );
}

/// Text right-aligned at `right`.
fn text_right(out: &mut String, f: &Font, s: &str, right: f32, y: f32, size: f32, fill: &str) {
    let x = right - f.width(s, size);
    text(out, f, s, x, y, size, fill);
}

/// A verdict pill with its text, left edge at `x`, top at `y`; returns its width.
fn pill(out: &mut String, panel: &Panel, x: f32, y: f32, size: f32) -> f32 {
    let bold = font(Weight::Bold);
    let label = panel.verdict.as_str();
    let h = size * 1.8;
    let w = (bold.width(label, size) + size * 1.4).ceil();
    let _ = write!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"{}\"/>",
        num(x),
        num(y),
        num(w),
        num(h),
        num(h / 2.0),
        verdict_fill(panel.verdict)
    );
    let base = y + h / 2.0 + bold.cap_height(size) / 2.0;
    text(out, bold, label, x + size * 0.7, base, size, "#ffffff");
    w
}

fn tally(panel: &Panel) -> (String, Option<String>) {
    (
        format!("{}% panel ship", panel.ship_percent),
        panel.split.map(|s| s.to_string()),
    )
}

/// The OG image of a tool page: name, tagline, category, verdict pill, % panel ship and
/// split.
pub fn og_tool_svg(tool: &Tool) -> String {
    let (regular, bold) = (font(Weight::Regular), font(Weight::Bold));
    let id = id_prefix("og", &tool.slug, "");
    let mut s = String::with_capacity(64 * 1024);
    let (pct, split) = tally(&tool.panel);
    let label = format!(
        "{}: {} ({pct}{}) on {SITE_NAME}",
        tool.name,
        tool.panel.verdict,
        split.as_ref().map(|s| format!(", {s}")).unwrap_or_default()
    );
    open(&mut s, &label, &id);
    let right = OG_WIDTH as f32 - 64.0;
    text_right(&mut s, regular, &tool.category, right, 96.0, 26.0, MUTED);

    let width = OG_WIDTH as f32 - 128.0;
    let name = bold.wrap(&tool.name, 72.0, width, 2);
    let mut y = 236.0;
    for line in &name {
        text(&mut s, bold, line, 64.0, y, 72.0, TEXT);
        y += 82.0;
    }
    y += 74.0 - 82.0;
    for line in regular.wrap(&tool.tagline, 34.0, width, 2) {
        text(&mut s, regular, &line, 64.0, y, 34.0, MUTED);
        y += 44.0;
    }

    let top = 488.0;
    let w = pill(&mut s, &tool.panel, 64.0, top, 40.0);
    let base = top + 36.0 + bold.cap_height(40.0) / 2.0;
    let x = 64.0 + w + 28.0;
    text(&mut s, bold, &pct, x, base, 40.0, TEXT);
    if let Some(split) = split {
        let x = x + bold.width(&pct, 40.0) + 20.0;
        text(&mut s, regular, &format!("· {split}"), x, base, 34.0, MUTED);
    }
    s.push_str("</svg>");
    s
}

/// The OG image of a compare page: both tools side by side (display order), each with
/// its initial, name, verdict pill, % panel ship and split.
pub fn og_compare_svg(left: &Tool, right: &Tool) -> String {
    let (regular, bold) = (font(Weight::Regular), font(Weight::Bold));
    let slug = crate::model::compare_slug(&left.slug, &right.slug);
    let id = id_prefix("og", &slug, "");
    let title = format!("{} vs {}", left.name, right.name);
    let mut s = String::with_capacity(96 * 1024);
    let label = format!(
        "{title}: {} {}% panel ship, {} {}% panel ship, on {SITE_NAME}",
        left.panel.verdict, left.panel.ship_percent, right.panel.verdict, right.panel.ship_percent
    );
    open(&mut s, &label, &id);
    let page_right = OG_WIDTH as f32 - 64.0;
    text_right(
        &mut s,
        regular,
        "AI tool comparison",
        page_right,
        96.0,
        26.0,
        MUTED,
    );

    // Divider and "vs".
    let mid = OG_WIDTH as f32 / 2.0;
    let _ = write!(
        s,
        "<rect x=\"{}\" y=\"170\" width=\"2\" height=\"380\" fill=\"#d1d5db\"/>",
        num(mid - 1.0)
    );
    let vs_w = bold.width("vs", 36.0);
    let _ = write!(
        s,
        "<circle cx=\"{}\" cy=\"330\" r=\"40\" fill=\"{BG}\" stroke=\"#d1d5db\" stroke-width=\"2\"/>",
        num(mid)
    );
    text(
        &mut s,
        bold,
        "vs",
        mid - vs_w / 2.0,
        330.0 + bold.cap_height(36.0) / 2.0,
        36.0,
        MUTED,
    );

    let col_w = mid - 64.0 - 64.0;
    for (tool, x0) in [(left, 64.0), (right, mid + 64.0)] {
        // Avatar with the initial.
        let _ = write!(
            s,
            "<circle cx=\"{}\" cy=\"206\" r=\"36\" fill=\"#e0e7ff\"/>",
            num(x0 + 36.0)
        );
        let initial = tool.initial().to_string();
        let iw = bold.width(&initial, 36.0);
        text(
            &mut s,
            bold,
            &initial,
            x0 + 36.0 - iw / 2.0,
            206.0 + bold.cap_height(36.0) / 2.0,
            36.0,
            "#3730a3",
        );
        let (name, size) = bold.wrap_sizes(&tool.name, &[52.0, 46.0, 40.0], col_w, 2);
        let mut y = 304.0;
        for line in &name {
            text(&mut s, bold, line, x0, y, size, TEXT);
            y += size * 1.12;
        }
        // The tagline in the room left above the pill: 2 lines under a 1-line name.
        y += 42.0 - size * 1.12;
        for line in regular.wrap(&tool.tagline, 24.0, col_w, 3 - name.len()) {
            text(&mut s, regular, &line, x0, y, 24.0, MUTED);
            y += 32.0;
        }
        let top = 440.0;
        let w = pill(&mut s, &tool.panel, x0, top, 32.0);
        let (pct, split) = tally(&tool.panel);
        let base = top + 28.8 + bold.cap_height(32.0) / 2.0;
        text(&mut s, bold, &pct, x0 + w + 20.0, base, 32.0, TEXT);
        if let Some(split) = split {
            text(&mut s, regular, &split, x0, 552.0, 28.0, MUTED);
        }
    }
    text(
        &mut s,
        regular,
        "Which one should you ship with?",
        64.0,
        606.0,
        24.0,
        MUTED,
    );
    s.push_str("</svg>");
    s
}
