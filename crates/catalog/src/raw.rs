//! The file formats of `content/`, as serde reads them, before validation.
//!
//! Fields a person must give are `Option` here so that the loader can report a missing
//! one as "missing required field `x`" with its full key path, rather than serde's
//! message without one. Unknown keys are rejected so that a typo does not silently drop
//! a fact.

use serde::Deserialize;

/// `content/personas.toml`: `[[persona]]` tables in scorecard order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPersonas {
    #[serde(default)]
    pub persona: Vec<RawPersona>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPersona {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub focus: Option<String>,
    pub opening: Option<String>,
}

/// `content/tools/<slug>.toml`: one listing with its `[[review]]`s.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTool {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub product: Option<String>,
    pub tagline: Option<String>,
    pub category: Option<String>,
    pub best_for: Option<String>,
    pub description: Option<String>,
    pub license: Option<String>,
    pub pricing: Option<RawPricing>,
    #[serde(default)]
    pub community: RawCommunity,
    pub panel: Option<RawPanel>,
    #[serde(default)]
    pub review: Vec<RawReview>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPricing {
    pub entry: Option<String>,
    pub details: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCommunity {
    #[serde(default)]
    pub ships: u32,
    #[serde(default)]
    pub skips: u32,
}

/// What the source states about the panel; checked against the reviews.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPanel {
    pub ships: Option<u32>,
    pub skips: Option<u32>,
    pub ship_percent: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReview {
    pub persona: Option<String>,
    /// i64 so that a score like 120 or -5 reaches our range check (and its clear
    /// message) instead of failing inside serde.
    pub score: Option<i64>,
    pub vote: Option<RawVote>,
    pub text: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawVote {
    Ship,
    Skip,
}

/// `content/compare/<a>-vs-<b>.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawComparison {
    /// The two tool slugs in the order the source page shows them.
    pub tools: Option<Vec<String>>,
}
