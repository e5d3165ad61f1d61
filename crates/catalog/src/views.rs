//! Views the pages need, computed from the validated catalog. They return owned values
//! (clones of small structs) so that components can take them as props.

use crate::model::{slugify, Catalog, Comparison, Persona, Review, Tool, Verdict};
use serde::Serialize;

/// One row of a comparison's reviewer scorecard: a persona and each tool's review by it
/// (`None` = "No panel take"). Rows with `persona: None` pair the reviews that the sources
/// show without a persona, in source order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScorecardRow {
    pub persona: Option<Persona>,
    /// In the comparison's display order (left, right).
    pub takes: [Option<Review>; 2],
}

/// Everything a `/compare/<a>-vs-<b>/` page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComparePage {
    pub comparison: Comparison,
    /// In display order (left, right), as the source page shows them.
    pub tools: [Tool; 2],
    /// "SmolVLM2-2B vs Karpathy Skills".
    pub title: String,
    pub rows: Vec<ScorecardRow>,
}

/// One persona's review of one listing, for `/reviewer/<persona>/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonaTake {
    pub tool: Tool,
    pub review: Review,
}

/// The tools (and comparisons involving them) of one category, for the home page filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryGroup {
    /// "Developer Tools".
    pub name: String,
    /// "developer-tools".
    pub slug: String,
    pub tools: Vec<Tool>,
    /// Comparisons with at least one tool in this category.
    pub comparisons: Vec<Comparison>,
}

impl Tool {
    /// This listing's review by a persona, if any.
    pub fn review_by(&self, persona: &str) -> Option<&Review> {
        self.reviews
            .iter()
            .find(|r| r.persona.as_deref() == Some(persona))
    }

    /// Reviews the source shows without a persona, in source order.
    pub fn unattributed_reviews(&self) -> impl Iterator<Item = &Review> {
        self.reviews.iter().filter(|r| r.persona.is_none())
    }

    /// The letter of the avatar circle ("S" for SmolVLM2-2B).
    pub fn initial(&self) -> char {
        self.name
            .chars()
            .find(|c| c.is_alphanumeric())
            .map(|c| c.to_uppercase().next().unwrap_or(c))
            .unwrap_or('?')
    }

    /// The category as a slug ("developer-tools").
    pub fn category_slug(&self) -> String {
        slugify(&self.category)
    }

    /// The description split into paragraphs (blank-line separated in the file).
    pub fn paragraphs(&self) -> impl Iterator<Item = &str> {
        self.description
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
    }

    /// The share text of the tool page, as the source words it, e.g.
    /// "SmolVLM2-2B verdict: SHIP 🚀 4 ships · 0 skips from the expert panel Full review: URL".
    pub fn share_text(&self, url: &str) -> String {
        let verdict = match self.panel.verdict {
            Verdict::Ship => "SHIP 🚀".to_string(),
            v => v.as_str().to_uppercase(),
        };
        let tally = match self.panel.split {
            Some(s) => s.counted(),
            None => format!("{}% panel ship", self.panel.ship_percent),
        };
        format!(
            "{} verdict: {verdict} {tally} from the expert panel Full review: {url}",
            self.name
        )
    }
}

impl Catalog {
    /// The scorecard of a comparison: one row per persona (in `personas.toml` order) that
    /// reviewed either tool, then rows pairing the reviews without a persona.
    pub fn scorecard(&self, cmp: &Comparison) -> Vec<ScorecardRow> {
        let (Some(a), Some(b)) = (self.tool(&cmp.tools[0]), self.tool(&cmp.tools[1])) else {
            return Vec::new();
        };
        let mut rows = Vec::new();
        for p in &self.personas {
            let takes = [a.review_by(&p.slug).cloned(), b.review_by(&p.slug).cloned()];
            if takes.iter().any(Option::is_some) {
                rows.push(ScorecardRow {
                    persona: Some(p.clone()),
                    takes,
                });
            }
        }
        let mut ua = a.unattributed_reviews();
        let mut ub = b.unattributed_reviews();
        loop {
            let takes = [ua.next().cloned(), ub.next().cloned()];
            if takes.iter().all(Option::is_none) {
                break;
            }
            rows.push(ScorecardRow {
                persona: None,
                takes,
            });
        }
        rows
    }

    /// Everything a compare page shows, looked up by its canonical slug (use
    /// [`Catalog::comparison_for_path`] to accept the reverse order too).
    pub fn compare_page(&self, slug: &str) -> Option<ComparePage> {
        let cmp = self.comparison(slug)?;
        let a = self.tool(&cmp.tools[0])?;
        let b = self.tool(&cmp.tools[1])?;
        Some(ComparePage {
            comparison: cmp.clone(),
            title: format!("{} vs {}", a.name, b.name),
            rows: self.scorecard(cmp),
            tools: [a.clone(), b.clone()],
        })
    }

    /// A persona's reviews across all listings (sorted by tool slug).
    pub fn persona_takes(&self, persona: &str) -> Vec<PersonaTake> {
        self.tools
            .iter()
            .filter_map(|t| {
                t.review_by(persona).map(|r| PersonaTake {
                    tool: t.clone(),
                    review: r.clone(),
                })
            })
            .collect()
    }

    /// Tools grouped by category, categories sorted by name.
    pub fn categories(&self) -> Vec<CategoryGroup> {
        let mut groups: Vec<CategoryGroup> = Vec::new();
        for t in &self.tools {
            match groups.iter_mut().find(|g| g.name == t.category) {
                Some(g) => g.tools.push(t.clone()),
                None => groups.push(CategoryGroup {
                    name: t.category.clone(),
                    slug: t.category_slug(),
                    tools: vec![t.clone()],
                    comparisons: Vec::new(),
                }),
            }
        }
        for g in &mut groups {
            g.comparisons = self
                .comparisons
                .iter()
                .filter(|c| c.tools.iter().any(|s| g.tools.iter().any(|t| &t.slug == s)))
                .cloned()
                .collect();
        }
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        groups
    }

    /// Other listings of the same product (other review rounds), sorted by slug.
    pub fn other_rounds(&self, tool: &Tool) -> Vec<&Tool> {
        match &tool.product {
            None => Vec::new(),
            Some(p) => self
                .tools
                .iter()
                .filter(|t| t.slug != tool.slug && t.product.as_ref() == Some(p))
                .collect(),
        }
    }

    /// The comparisons a listing appears in.
    pub fn comparisons_with(&self, tool: &str) -> Vec<&Comparison> {
        self.comparisons
            .iter()
            .filter(|c| c.tools.iter().any(|t| t == tool))
            .collect()
    }
}
