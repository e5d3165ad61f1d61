//! Verdict badges: the 360×90 card and the compact shields-style one, light and dark.

use super::text::{font, num, Weight};
use super::{brand_mark, id_prefix, verdict_fill};
use crate::embed::{
    badge_alt, xml_escape, BadgeStyle, BadgeVariant, Theme, BADGE_HEIGHT, BADGE_WIDTH,
};
use crate::model::Tool;
use crate::SITE_NAME;
use std::fmt::Write as _;

struct Palette {
    bg: &'static str,
    border: &'static str,
    text: &'static str,
    muted: &'static str,
}

fn palette(theme: Theme) -> Palette {
    match theme {
        // Contrast on the background: text 17.7:1, muted 7.6:1.
        Theme::Light => Palette {
            bg: "#ffffff",
            border: "#d1d5db",
            text: "#111827",
            muted: "#4b5563",
        },
        // text 16.9:1, muted 6.9:1.
        Theme::Dark => Palette {
            bg: "#111827",
            border: "#374151",
            text: "#f9fafb",
            muted: "#9ca3af",
        },
    }
}

/// The SVG of one badge variant of a tool: `role="img"`, an `aria-label` and a `<title>`
/// saying name, verdict, % panel ship and split; ids prefixed with the slug and variant;
/// every text drawn as paths (and escaped where it appears as text).
pub fn badge_svg(tool: &Tool, variant: BadgeVariant) -> String {
    match variant.style {
        BadgeStyle::Verdict => verdict_badge(tool, variant),
        BadgeStyle::Flat => flat_badge(tool, variant),
    }
}

fn open_svg(out: &mut String, width: u32, height: u32, label: &str, id: &str) {
    let label = xml_escape(label);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{label}\">\
         <title id=\"{id}-title\">{label}</title>"
    );
}

fn verdict_badge(tool: &Tool, variant: BadgeVariant) -> String {
    let pal = palette(variant.theme);
    let id = id_prefix("badge", &tool.slug, variant.suffix());
    let (regular, bold) = (font(Weight::Regular), font(Weight::Bold));
    let (w, h) = (BADGE_WIDTH as f32, BADGE_HEIGHT as f32);
    let p = &tool.panel;

    let mut s = String::with_capacity(16 * 1024);
    open_svg(&mut s, BADGE_WIDTH, BADGE_HEIGHT, &badge_alt(tool), &id);
    let _ = write!(
        s,
        "<rect x=\"0.5\" y=\"0.5\" width=\"{}\" height=\"{}\" rx=\"12\" fill=\"{}\" stroke=\"{}\"/>",
        num(w - 1.0),
        num(h - 1.0),
        pal.bg,
        pal.border
    );
    s.push_str(&brand_mark(16.0, 19.0, 52.0));

    // Verdict pill, right-aligned.
    let pill_size = 14.0;
    let pill_text = p.verdict.as_str();
    let pill_w = (bold.width(pill_text, pill_size) + 24.0).ceil();
    let (pill_h, pill_y) = (26.0, 18.0);
    let pill_x = w - 16.0 - pill_w;
    let _ = write!(
        s,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"{}\"/>",
        num(pill_x),
        num(pill_y),
        num(pill_w),
        num(pill_h),
        num(pill_h / 2.0),
        verdict_fill(p.verdict)
    );
    let pill_base = pill_y + pill_h / 2.0 + bold.cap_height(pill_size) / 2.0;
    let tx = pill_x + (pill_w - bold.width(pill_text, pill_size)) / 2.0;
    let _ = write!(
        s,
        "<path fill=\"#ffffff\" d=\"{}\"/>",
        bold.path(pill_text, tx, pill_base, pill_size)
    );

    // Name, shortened to the room left of the pill.
    let x = 82.0;
    let (name, name_size) = bold.fit_sizes(&tool.name, &[18.0, 16.0, 14.0], pill_x - 10.0 - x);
    let _ = write!(
        s,
        "<path fill=\"{}\" d=\"{}\"/>",
        pal.text,
        bold.path(&name, x, 38.0, name_size)
    );

    // "75% panel ship · 3 ship / 1 skip".
    let line = match p.split {
        Some(sp) => format!("{}% panel ship · {sp}", p.ship_percent),
        None => format!("{}% panel ship", p.ship_percent),
    };
    let line = regular.fit(&line, 13.0, w - 16.0 - x);
    let _ = write!(
        s,
        "<path fill=\"{}\" d=\"{}\"/>",
        pal.text,
        regular.path(&line, x, 60.0, 13.0)
    );
    // Live badges (the votes service) give the community's split in place of the tagline.
    let foot = match crate::embed::community_line(tool) {
        Some(c) => regular.fit(&format!("{c} · {SITE_NAME}"), 11.0, w - 16.0 - x),
        None => format!("{SITE_NAME} · expert panel verdict"),
    };
    let _ = write!(
        s,
        "<path fill=\"{}\" d=\"{}\"/>",
        pal.muted,
        regular.path(&foot, x, 78.0, 11.0)
    );
    s.push_str("</svg>");
    s
}

/// Shields.io "flat" layout: label | message, 20 px high, 11 px text, 6 px padding.
fn flat_badge(tool: &Tool, variant: BadgeVariant) -> String {
    let id = id_prefix("badge", &tool.slug, variant.suffix());
    let regular = font(Weight::Regular);
    let p = &tool.panel;
    let size = 11.0;
    let label = SITE_NAME.to_lowercase();
    let message = match tool.community.ship_percent() {
        Some(c) => format!("{} {}% · community {c}%", p.verdict, p.ship_percent),
        None => format!("{} {}%", p.verdict, p.ship_percent),
    };
    let lw = (regular.width(&label, size) + 12.0).ceil();
    let mw = (regular.width(&message, size) + 12.0).ceil();
    let total = lw + mw;
    // Label background: shields' #555 on light (7.5:1 with white); darker on dark pages.
    let label_fill = match variant.theme {
        Theme::Light => "#555555",
        Theme::Dark => "#2d333b",
    };

    let mut s = String::with_capacity(8 * 1024);
    open_svg(&mut s, total as u32, 20, &badge_alt(tool), &id);
    let _ = write!(
        s,
        "<linearGradient id=\"{id}-shine\" x2=\"0\" y2=\"100%\">\
         <stop offset=\"0\" stop-color=\"#bbbbbb\" stop-opacity=\".1\"/>\
         <stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>\
         <clipPath id=\"{id}-round\"><rect width=\"{t}\" height=\"20\" rx=\"3\" fill=\"#ffffff\"/></clipPath>\
         <g clip-path=\"url(#{id}-round)\">\
         <rect width=\"{lw}\" height=\"20\" fill=\"{label_fill}\"/>\
         <rect x=\"{lw}\" width=\"{mw}\" height=\"20\" fill=\"{vf}\"/>\
         <rect width=\"{t}\" height=\"20\" fill=\"url(#{id}-shine)\"/></g>",
        t = num(total),
        lw = num(lw),
        mw = num(mw),
        vf = verdict_fill(p.verdict),
    );
    // White text (shields' 1 px shadow left out: it would double the outlines, and the
    // text passes AA without it).
    for (text, x0) in [(&label, 6.0), (&message, lw + 6.0)] {
        let _ = write!(
            s,
            "<path fill=\"#ffffff\" d=\"{}\"/>",
            regular.path(text, x0, 14.0, size)
        );
    }
    s.push_str("</svg>");
    s
}
