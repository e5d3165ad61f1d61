//! Text as SVG paths from the bundled DejaVu Sans outlines.
//!
//! An SVG shown through `<img>` cannot load web fonts and the fonts on a viewer's machine
//! are unknown, so badges and OG images carry their text as outlines. Widths come from the
//! font's advances and its `kern` pairs: the layout is what a renderer with this font would
//! do for Latin text, without ligatures or complex shaping (a full shaper would be
//! rustybuzz; our texts are names and short labels, and a missing ligature only changes
//! the look of "fi" slightly, never the width budget we computed).

use std::sync::OnceLock;
use ttf_parser::{Face, GlyphId, OutlineBuilder};

static REGULAR_TTF: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../fonts/DejaVuSans-Bold.ttf");

/// Which bundled face: DejaVu Sans or DejaVu Sans Bold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weight {
    Regular,
    Bold,
}

/// A parsed bundled font.
pub(crate) struct Font {
    face: Face<'static>,
    /// 1 / units per em.
    inv_upem: f32,
}

fn parse(data: &'static [u8]) -> Font {
    // The fonts are bundled with the crate and parsed by the tests in
    // tests/badges.rs, so a failure here is a broken build, not bad input.
    let face = match Face::parse(data, 0) {
        Ok(f) => f,
        Err(e) => panic!("bundled font does not parse: {e}"),
    };
    let inv_upem = 1.0 / f32::from(face.units_per_em());
    Font { face, inv_upem }
}

pub(crate) fn font_data(weight: Weight) -> &'static [u8] {
    match weight {
        Weight::Regular => REGULAR_TTF,
        Weight::Bold => BOLD_TTF,
    }
}

pub(crate) fn font(weight: Weight) -> &'static Font {
    static REGULAR: OnceLock<Font> = OnceLock::new();
    static BOLD: OnceLock<Font> = OnceLock::new();
    match weight {
        Weight::Regular => REGULAR.get_or_init(|| parse(REGULAR_TTF)),
        Weight::Bold => BOLD.get_or_init(|| parse(BOLD_TTF)),
    }
}

impl Font {
    fn glyph(&self, c: char) -> GlyphId {
        // .notdef (a box) for characters the font lacks, as a browser would show.
        self.face.glyph_index(c).unwrap_or(GlyphId(0))
    }

    /// Glyphs and their x offsets in font units, plus the total advance.
    fn layout(&self, text: &str) -> (Vec<(GlyphId, i32)>, i32) {
        let mut out = Vec::with_capacity(text.len());
        let mut x: i32 = 0;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            // Control characters have no place in a one-line label.
            let c = if c.is_control() { ' ' } else { c };
            let g = self.glyph(c);
            if let Some(p) = prev {
                x += i32::from(self.kerning(p, g));
            }
            out.push((g, x));
            x += i32::from(self.face.glyph_hor_advance(g).unwrap_or(0));
            prev = Some(g);
        }
        (out, x)
    }

    fn kerning(&self, left: GlyphId, right: GlyphId) -> i16 {
        let Some(kern) = self.face.tables().kern else {
            return 0;
        };
        kern.subtables
            .into_iter()
            .filter(|s| s.horizontal && !s.variable && !s.has_cross_stream)
            .find_map(|s| s.glyphs_kerning(left, right))
            .unwrap_or(0)
    }

    /// Width of `text` at `size` pixels.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        self.layout(text).1 as f32 * self.inv_upem * size
    }

    /// Height of capital letters at `size` pixels (for vertical centring).
    pub(crate) fn cap_height(&self, size: f32) -> f32 {
        let cap = self
            .face
            .capital_height()
            .unwrap_or_else(|| (f32::from(self.face.ascender()) * 0.7) as i16);
        f32::from(cap) * self.inv_upem * size
    }

    /// The path data of `text` with its baseline starting at (`x`, `y`).
    pub(crate) fn path(&self, text: &str, x: f32, y: f32, size: f32) -> String {
        let scale = self.inv_upem * size;
        let (glyphs, _) = self.layout(text);
        let mut b = PathData {
            d: String::new(),
            x0: x,
            y0: y,
            scale,
            dx: 0.0,
            cur: (0, 0),
            start: (0, 0),
        };
        for (g, gx) in glyphs {
            b.dx = gx as f32;
            self.face.outline_glyph(g, &mut b);
        }
        b.d
    }

    /// `text` shortened with "…" so that it fits `max_width` at `size` (unchanged if it
    /// fits).
    pub(crate) fn fit(&self, text: &str, size: f32, max_width: f32) -> String {
        if self.width(text, size) <= max_width {
            return text.to_string();
        }
        let chars: Vec<char> = text.chars().collect();
        let mut n = chars.len();
        while n > 0 {
            n -= 1;
            let candidate: String =
                chars[..n].iter().collect::<String>().trim_end().to_string() + "…";
            if self.width(&candidate, size) <= max_width {
                return candidate;
            }
        }
        "…".to_string()
    }

    /// The largest size from `sizes` (largest first) at which `text` fits `max_width`, and
    /// the text at that size (shortened with "…" at the smallest if nothing fits).
    pub(crate) fn fit_sizes(&self, text: &str, sizes: &[f32], max_width: f32) -> (String, f32) {
        for &size in sizes {
            if self.width(text, size) <= max_width {
                return (text.to_string(), size);
            }
        }
        let smallest = sizes.last().copied().unwrap_or(12.0);
        (self.fit(text, smallest, max_width), smallest)
    }

    /// [`Font::wrap`] at the largest size from `sizes` (largest first) where the whole
    /// text fits in `max_lines`; at the smallest size, shortened with "…" if need be.
    pub(crate) fn wrap_sizes(
        &self,
        text: &str,
        sizes: &[f32],
        max_width: f32,
        max_lines: usize,
    ) -> (Vec<String>, f32) {
        let words = text.split_whitespace().count();
        for &size in sizes {
            let lines = self.wrap(text, size, max_width, max_lines);
            let shown: usize = lines.iter().map(|l| l.split_whitespace().count()).sum();
            let shortened = lines
                .last()
                .is_some_and(|l| l.ends_with('…') && !text.ends_with('…'));
            if shown == words && !shortened {
                return (lines, size);
            }
        }
        let smallest = sizes.last().copied().unwrap_or(12.0);
        (self.wrap(text, smallest, max_width, max_lines), smallest)
    }

    /// Greedy word wrap into at most `max_lines` lines of `max_width`; the last line is
    /// shortened with "…" if text remains.
    pub(crate) fn wrap(
        &self,
        text: &str,
        size: f32,
        max_width: f32,
        max_lines: usize,
    ) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        let mut current = String::new();
        let words: Vec<&str> = text.split_whitespace().collect();
        let mut i = 0;
        while i < words.len() {
            let w = words[i];
            let candidate = if current.is_empty() {
                w.to_string()
            } else {
                format!("{current} {w}")
            };
            if self.width(&candidate, size) <= max_width || current.is_empty() {
                current = candidate;
                i += 1;
                continue;
            }
            if lines.len() + 1 == max_lines {
                break;
            }
            let line = std::mem::take(&mut current);
            lines.push(self.fit(&line, size, max_width));
        }
        if i < words.len() {
            // Text remains: the last line ends with an ellipsis.
            let rest = words[i..].join(" ");
            current = self.fit(&format!("{current} {rest}"), size, max_width);
        } else {
            current = self.fit(&current, size, max_width);
        }
        if !current.is_empty() {
            lines.push(current);
        }
        lines.truncate(max_lines.max(1));
        lines
    }
}

/// Collects glyph outlines as SVG path data in pixel coordinates (y down).
///
/// Points are rounded to tenths of a pixel (below what a 2x screen shows) and written
/// relative to the previous point, which keeps a badge's outlines about a third smaller
/// than absolute coordinates; deltas of rounded points are exact, so nothing drifts.
struct PathData {
    d: String,
    x0: f32,
    y0: f32,
    scale: f32,
    /// The current glyph's x offset in font units.
    dx: f32,
    /// Current point and subpath start, in tenths of a pixel.
    cur: (i32, i32),
    start: (i32, i32),
}

impl PathData {
    fn tenths(&self, x: f32, y: f32) -> (i32, i32) {
        let px = self.x0 + (x + self.dx) * self.scale;
        let py = self.y0 - y * self.scale;
        ((px * 10.0).round() as i32, (py * 10.0).round() as i32)
    }

    fn push(&mut self, v: i32) {
        let s = tenths_str(v);
        // A minus sign separates numbers by itself.
        if !s.starts_with('-') && !self.d.ends_with(|c: char| c.is_ascii_alphabetic()) {
            self.d.push(' ');
        }
        self.d.push_str(&s);
    }

    /// Writes points relative to the current point, then moves it to the last one.
    fn rel(&mut self, cmd: char, pts: &[(f32, f32)]) {
        self.d.push(cmd);
        let base = self.cur;
        let mut last = base;
        for &(x, y) in pts {
            let p = self.tenths(x, y);
            self.push(p.0 - base.0);
            self.push(p.1 - base.1);
            last = p;
        }
        self.cur = last;
    }
}

/// Tenths of a pixel as a decimal ("125" → "12.5", "-30" → "-3").
fn tenths_str(v: i32) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let (whole, frac) = (a / 10, a % 10);
    if frac == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac}")
    }
}

impl OutlineBuilder for PathData {
    fn move_to(&mut self, x: f32, y: f32) {
        let p = self.tenths(x, y);
        self.d.push('M');
        self.push(p.0);
        self.push(p.1);
        self.cur = p;
        self.start = p;
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.rel('l', &[(x, y)]);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.rel('q', &[(x1, y1), (x, y)]);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.rel('c', &[(x1, y1), (x2, y2), (x, y)]);
    }
    fn close(&mut self) {
        self.d.push('Z');
        self.cur = self.start;
    }
}

/// A coordinate with at most one decimal and no trailing zero ("12.5", "-3"). A tenth of a
/// pixel is below what a 2x screen shows, and it keeps a badge's outlines small.
pub(crate) fn num(v: f32) -> String {
    let r = (v * 10.0).round() / 10.0;
    let r = if r == 0.0 { 0.0 } else { r }; // no "-0"
    let s = format!("{r:.1}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}
