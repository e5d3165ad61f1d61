//! The public data: plain Rust values that the app passes to its components.
//!
//! Everything here is validated and derived by the loader ([`crate::Catalog::from_files`]);
//! nothing on a page needs to parse or compute a verdict again.

use serde::Serialize;
use std::fmt;

/// The whole comparison content: personas, tool listings and comparisons.
///
/// Tools and comparisons are sorted by slug; personas keep the order of
/// `personas.toml` (the order of the scorecard rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalog {
    pub personas: Vec<Persona>,
    pub tools: Vec<Tool>,
    pub comparisons: Vec<Comparison>,
}

/// A reviewer persona of the panel (Builder, Skeptic, Futurist, Founder, Creator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Persona {
    /// Lowercase-hyphenated, unique: `/reviewer/<slug>/`.
    pub slug: String,
    /// Display name, e.g. "Builder".
    pub name: String,
    /// One line on what this reviewer looks at.
    pub focus: String,
    /// How this persona's reviews open ("The primitive…"), as seen in the sources; used to
    /// attribute quotes that the source shows without a persona heading.
    pub opening: Option<String>,
}

/// One listing of a tool: one review round on the source site.
///
/// The same product can have several listings (e.g. SmolVLM2-2B was reviewed twice, with
/// different taglines and panel splits); they share [`Tool::product`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tool {
    /// Lowercase-hyphenated, unique: `/tool/<slug>/`, `/badge/<slug>.svg`.
    pub slug: String,
    /// Display name, e.g. "SmolVLM2-2B".
    pub name: String,
    /// Groups listings of the same product reviewed in different rounds (a slug-like key);
    /// `None` when this is the only listing.
    pub product: Option<String>,
    pub tagline: String,
    /// e.g. "Developer Tools".
    pub category: String,
    /// The "Best for" row of the compare table (defaults to the tagline, as on the source).
    pub best_for: String,
    /// Paragraph(s) of description; paragraphs separated by a blank line.
    pub description: String,
    /// Where the source states it, e.g. "Apache 2.0".
    pub license: Option<String>,
    pub pricing: Pricing,
    pub community: Community,
    /// In the order of the source page.
    pub reviews: Vec<Review>,
    /// Derived from the reviews' ship/skip where they carry it, else from what the source
    /// states.
    pub panel: Panel,
}

/// Pricing as the source shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pricing {
    /// The short "Entry" figure of the tool card, e.g. "Free".
    pub entry: String,
    /// The "Pricing" row of the compare table where the source gives one, e.g.
    /// "Free / Open weights (Apache 2.0)".
    pub details: Option<String>,
}

impl Pricing {
    /// The pricing row: the details where given, else the entry figure.
    pub fn summary(&self) -> &str {
        self.details.as_deref().unwrap_or(&self.entry)
    }
}

/// Community votes (the sources have none yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Community {
    pub ships: u32,
    pub skips: u32,
}

impl Community {
    pub fn total(&self) -> u32 {
        self.ships + self.skips
    }

    /// "% ship" of the community, `None` without votes.
    pub fn ship_percent(&self) -> Option<u8> {
        (self.total() > 0).then(|| ship_percent(self.ships, self.skips))
    }

    /// "No community votes yet", or e.g. "67% ship · 2 ship / 1 skip".
    pub fn summary(&self) -> String {
        match self.ship_percent() {
            None => "No community votes yet".to_string(),
            Some(p) => format!(
                "{p}% ship · {}",
                Split {
                    ships: self.ships,
                    skips: self.skips
                }
            ),
        }
    }
}

/// One reviewer's take on one listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    /// The persona's slug, where the source shows it or the text makes it evident.
    pub persona: Option<String>,
    /// 0–100, where the source gives one.
    pub score: Option<u8>,
    /// Where the source gives one.
    pub vote: Option<Vote>,
    pub text: String,
}

impl Review {
    /// The scorecard's label as the source writes it: "88/100 · ship"; "88/100" or "ship"
    /// when only one is given; `None` for a quote with neither.
    pub fn score_label(&self) -> Option<String> {
        match (self.score, self.vote) {
            (Some(s), Some(v)) => Some(format!("{s}/100 · {v}")),
            (Some(s), None) => Some(format!("{s}/100")),
            (None, Some(v)) => Some(v.to_string()),
            (None, None) => None,
        }
    }
}

/// A ship/skip: a reviewer's, or a visitor's community vote (the votes API's `"vote"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vote {
    Ship,
    Skip,
}

impl Vote {
    /// "ship" / "skip", as in "88/100 · ship".
    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Ship => "ship",
            Vote::Skip => "skip",
        }
    }

    /// `"ship"` or `"skip"`, exactly.
    pub fn parse(s: &str) -> Option<Vote> {
        match s {
            "ship" => Some(Vote::Ship),
            "skip" => Some(Vote::Skip),
            _ => None,
        }
    }
}

impl fmt::Display for Vote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The panel's verdict: more ships than skips is Ship, more skips Skip, a tie Split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Verdict {
    Ship,
    Skip,
    Split,
}

impl Verdict {
    /// From a split: more ships = Ship, more skips = Skip, tie = Split.
    pub fn from_split(ships: u32, skips: u32) -> Verdict {
        use std::cmp::Ordering::*;
        match ships.cmp(&skips) {
            Greater => Verdict::Ship,
            Less => Verdict::Skip,
            Equal => Verdict::Split,
        }
    }

    /// From a "% panel ship" alone (when the source states no split): above 50 is Ship,
    /// below Skip, exactly 50 Split.
    pub fn from_percent(percent: u8) -> Verdict {
        use std::cmp::Ordering::*;
        match percent.cmp(&50) {
            Greater => Verdict::Ship,
            Less => Verdict::Skip,
            Equal => Verdict::Split,
        }
    }

    /// "Ship" / "Skip" / "Split".
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ship => "Ship",
            Verdict::Skip => "Skip",
            Verdict::Split => "Split",
        }
    }

    /// Lowercase, for CSS classes and ids: "ship" / "skip" / "split".
    pub fn css_class(self) -> &'static str {
        match self {
            Verdict::Ship => "ship",
            Verdict::Skip => "skip",
            Verdict::Split => "split",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A panel split, e.g. 3 ship / 1 skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Split {
    pub ships: u32,
    pub skips: u32,
}

impl Split {
    /// "3-1", as on the source's tool page ("Expert verdict Ship 4-0").
    pub fn short(&self) -> String {
        format!("{}-{}", self.ships, self.skips)
    }

    /// "4 ships · 0 skips", as in the source's share text.
    pub fn counted(&self) -> String {
        let s = |n: u32| if n == 1 { "" } else { "s" };
        format!(
            "{} ship{} · {} skip{}",
            self.ships,
            s(self.ships),
            self.skips,
            s(self.skips)
        )
    }
}

/// "3 ship / 1 skip", as in the compare table's "Panel verdict" row.
impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ship / {} skip", self.ships, self.skips)
    }
}

/// Where a panel verdict comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PanelBasis {
    /// Counted from the reviews' ship/skip.
    Reviews,
    /// The split the source states (its reviews carry no ship/skip).
    StatedSplit,
    /// Only the "% panel ship" the source states.
    StatedPercent,
}

/// The panel verdict of one listing, derived once by the loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Panel {
    pub verdict: Verdict,
    /// "% panel ship", rounded to the nearest whole number (halves up).
    pub ship_percent: u8,
    /// `None` when the source states only a percentage.
    pub split: Option<Split>,
    pub basis: PanelBasis,
}

impl Panel {
    /// "Ship · 3 ship / 1 skip" (the compare table's row), or "Ship · 75% panel ship"
    /// without a split.
    pub fn summary(&self) -> String {
        match self.split {
            Some(s) => format!("{} · {s}", self.verdict),
            None => format!("{} · {}% panel ship", self.verdict, self.ship_percent),
        }
    }
}

/// Percentage of ships, rounded to the nearest whole number with halves rounded up
/// (1 of 8 = 12.5% → 13%). Integer arithmetic so that no float rounding can flip a half.
/// 0 when there are no votes.
pub fn ship_percent(ships: u32, skips: u32) -> u8 {
    let total = u64::from(ships) + u64::from(skips);
    if total == 0 {
        return 0;
    }
    // round(100 * ships / total) = floor((200 * ships + total) / (2 * total))
    let p = (200 * u64::from(ships) + total) / (2 * total);
    // p <= 100 since ships <= total.
    p as u8
}

/// A head-to-head comparison of two listings: `/compare/<slug>/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// `<a>-vs-<b>` with the two tool slugs in alphabetical order.
    pub slug: String,
    /// The two tool slugs in the order the source page shows them (left, right); this can
    /// differ from the alphabetical order of the slug.
    pub tools: [String; 2],
}

impl Comparison {
    /// The slug of the reverse order (`<b>-vs-<a>`), whose page redirects here.
    pub fn reversed_slug(&self) -> String {
        let mut s = [self.tools[0].as_str(), self.tools[1].as_str()];
        s.sort();
        format!("{}-vs-{}", s[1], s[0])
    }
}

/// The canonical comparison slug of two tools: alphabetical, `<a>-vs-<b>`.
pub fn compare_slug(a: &str, b: &str) -> String {
    if a <= b {
        format!("{a}-vs-{b}")
    } else {
        format!("{b}-vs-{a}")
    }
}

/// Lowercase-hyphenated form of a display string ("Developer Tools" → "developer-tools"),
/// for category filters and anchors.
pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Is `s` a valid slug: lowercase ASCII letters and digits in groups joined by single hyphens.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}
