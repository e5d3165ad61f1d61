//! Parsing and validating `content/` into a [`Catalog`].
//!
//! Also compiled into `build.rs`, so that bad content fails `cargo build` with the same
//! messages; keep this module free of anything but `model`, `raw` and `error`.

use crate::error::{ContentError, LoadError};
use crate::model::{
    compare_slug, is_slug, ship_percent, Catalog, Community, Comparison, Panel, PanelBasis,
    Persona, Pricing, Review, Split, Tool, Verdict, Vote,
};
use crate::raw::{RawComparison, RawPersonas, RawReview, RawTool, RawVote};
use std::collections::BTreeMap;

/// What a path in `content/` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Personas,
    Tool,
    Comparison,
}

/// Classifies a path by its last components: `…/personas.toml`, `…/tools/<x>.toml`,
/// `…/compare/<x>.toml`. `None` for files that are not TOML (ignored); `Some(Err)` for a
/// TOML file elsewhere.
fn kind_of(path: &str) -> Option<Result<Kind, ()>> {
    let norm = path.replace('\\', "/");
    let mut parts = norm.rsplit('/');
    let name = parts.next().unwrap_or("");
    if !name.ends_with(".toml") {
        return None;
    }
    let dir = parts.next().unwrap_or("");
    Some(match (dir, name) {
        (_, "personas.toml") => Ok(Kind::Personas),
        ("tools", _) => Ok(Kind::Tool),
        ("compare", _) => Ok(Kind::Comparison),
        _ => Err(()),
    })
}

/// The file stem of a path (`compare/a-vs-b.toml` → `a-vs-b`).
fn stem(path: &str) -> &str {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    name.strip_suffix(".toml").unwrap_or(name)
}

struct Ctx {
    errors: Vec<ContentError>,
}

impl Ctx {
    fn missing(&mut self, file: &str, field: &str) {
        self.errors.push(ContentError::MissingField {
            file: file.to_string(),
            field: field.to_string(),
        });
    }

    fn invalid(&mut self, file: &str, field: &str, message: impl Into<String>) {
        self.errors.push(ContentError::Invalid {
            file: file.to_string(),
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// A required text: absent or blank is "missing required field".
    fn required(&mut self, file: &str, field: &str, v: Option<String>) -> Option<String> {
        match v.map(|s| s.trim().to_string()) {
            Some(s) if !s.is_empty() => Some(s),
            _ => {
                self.missing(file, field);
                None
            }
        }
    }

    /// An optional text: blank is an error (write nothing instead).
    fn optional(&mut self, file: &str, field: &str, v: Option<String>) -> Option<String> {
        match v.map(|s| s.trim().to_string()) {
            Some(s) if s.is_empty() => {
                self.invalid(file, field, "is empty: leave the key out instead");
                None
            }
            other => other,
        }
    }

    fn slug(&mut self, file: &str, field: &str, v: Option<String>) -> Option<String> {
        let s = self.required(file, field, v)?;
        if !is_slug(&s) {
            self.invalid(
                file,
                field,
                format!(
                    "`{s}` is not a slug (lowercase letters and digits joined by single hyphens)"
                ),
            );
            return None;
        }
        Some(s)
    }

    fn syntax(&mut self, file: &str, e: toml::de::Error) {
        self.errors.push(ContentError::Syntax {
            file: file.to_string(),
            message: e.to_string().trim_end().to_string(),
        });
    }
}

/// Loads and validates the content; see [`Catalog::from_files`].
pub(crate) fn load<I, P, S>(files: I) -> Result<Catalog, LoadError>
where
    I: IntoIterator<Item = (P, S)>,
    P: AsRef<str>,
    S: AsRef<str>,
{
    let mut cx = Ctx { errors: Vec::new() };
    let mut persona_files: Vec<(String, RawPersonas)> = Vec::new();
    let mut tool_files: Vec<(String, RawTool)> = Vec::new();
    let mut compare_files: Vec<(String, RawComparison)> = Vec::new();
    let mut personas_broken = false;

    for (path, text) in files {
        let (path, text) = (path.as_ref().to_string(), text.as_ref());
        match kind_of(&path) {
            None => {}
            Some(Err(())) => cx.errors.push(ContentError::UnknownFile { file: path }),
            Some(Ok(Kind::Personas)) => match toml::from_str::<RawPersonas>(text) {
                Ok(raw) => persona_files.push((path, raw)),
                Err(e) => {
                    personas_broken = true;
                    cx.syntax(&path, e)
                }
            },
            Some(Ok(Kind::Tool)) => match toml::from_str::<RawTool>(text) {
                Ok(raw) => tool_files.push((path, raw)),
                Err(e) => cx.syntax(&path, e),
            },
            Some(Ok(Kind::Comparison)) => match toml::from_str::<RawComparison>(text) {
                Ok(raw) => compare_files.push((path, raw)),
                Err(e) => cx.syntax(&path, e),
            },
        }
    }

    // Personas, in file order.
    let mut personas: Vec<Persona> = Vec::new();
    let mut persona_seen: BTreeMap<String, String> = BTreeMap::new();
    for (file, raw) in persona_files {
        for (i, p) in raw.persona.into_iter().enumerate() {
            let f = |k: &str| format!("persona[{i}].{k}");
            let slug = cx.slug(&file, &f("slug"), p.slug);
            let name = cx.required(&file, &f("name"), p.name);
            let focus = cx.required(&file, &f("focus"), p.focus);
            let opening = cx.optional(&file, &f("opening"), p.opening);
            let (Some(slug), Some(name), Some(focus)) = (slug, name, focus) else {
                continue;
            };
            if let Some(first) = persona_seen.get(&slug) {
                cx.errors.push(ContentError::DuplicateSlug {
                    file: file.clone(),
                    field: f("slug"),
                    slug,
                    first_file: first.clone(),
                });
                continue;
            }
            persona_seen.insert(slug.clone(), file.clone());
            personas.push(Persona {
                slug,
                name,
                focus,
                opening,
            });
        }
    }
    let known_personas = personas
        .iter()
        .map(|p| p.slug.as_str())
        .collect::<Vec<_>>()
        .join(", ");

    // Tools.
    let mut tools: BTreeMap<String, (String, Tool)> = BTreeMap::new();
    // Slugs claimed by files that failed validation, so that a comparison naming them
    // is not also reported as naming an unknown tool.
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    for (file, raw) in tool_files {
        let slug_hint = raw.slug.clone();
        let tool = tool(
            &mut cx,
            &file,
            raw,
            &personas,
            &known_personas,
            personas_broken,
        );
        let Some(tool) = tool else {
            if let Some(s) = slug_hint {
                claimed.entry(s.trim().to_string()).or_insert(file);
            }
            continue;
        };
        if let Some((first, _)) = tools.get(&tool.slug) {
            cx.errors.push(ContentError::DuplicateSlug {
                file: file.clone(),
                field: "slug".into(),
                slug: tool.slug.clone(),
                first_file: first.clone(),
            });
            continue;
        }
        tools.insert(tool.slug.clone(), (file, tool));
    }

    // Comparisons.
    let mut comparisons: BTreeMap<String, (String, Comparison)> = BTreeMap::new();
    for (file, raw) in compare_files {
        let Some(list) = raw.tools else {
            cx.missing(&file, "tools");
            continue;
        };
        if list.len() != 2 {
            cx.invalid(
                &file,
                "tools",
                format!(
                    "a comparison names exactly 2 tools, this one names {}",
                    list.len()
                ),
            );
            continue;
        }
        let mut ok = true;
        for (i, s) in list.iter().enumerate() {
            let field = format!("tools[{i}]");
            if !tools.contains_key(s) {
                ok = false;
                if !claimed.contains_key(s) {
                    cx.errors.push(ContentError::UnknownTool {
                        file: file.clone(),
                        field,
                        slug: s.clone(),
                    });
                }
            }
        }
        if !ok {
            continue;
        }
        if list[0] == list[1] {
            cx.invalid(
                &file,
                "tools",
                format!("compares `{}` with itself", list[0]),
            );
            continue;
        }
        let slug = compare_slug(&list[0], &list[1]);
        if stem(&file) != slug {
            cx.invalid(
                &file,
                "tools",
                format!("this comparison's file must be named compare/{slug}.toml (tool slugs in alphabetical order)"),
            );
            continue;
        }
        if let Some((first, _)) = comparisons.get(&slug) {
            cx.errors.push(ContentError::DuplicateSlug {
                file: file.clone(),
                field: "tools".into(),
                slug,
                first_file: first.clone(),
            });
            continue;
        }
        let cmp = Comparison {
            slug: slug.clone(),
            tools: [list[0].clone(), list[1].clone()],
        };
        comparisons.insert(slug, (file, cmp));
    }

    if !cx.errors.is_empty() {
        return Err(LoadError { errors: cx.errors });
    }
    Ok(Catalog {
        personas,
        tools: tools.into_values().map(|(_, t)| t).collect(),
        comparisons: comparisons.into_values().map(|(_, c)| c).collect(),
    })
}

/// Validates one tool file; `None` if it has errors (already pushed).
fn tool(
    cx: &mut Ctx,
    file: &str,
    raw: RawTool,
    personas: &[Persona],
    known_personas: &str,
    personas_broken: bool,
) -> Option<Tool> {
    let before = cx.errors.len();
    let slug = cx.slug(file, "slug", raw.slug);
    if let Some(s) = &slug {
        if s.contains("-vs-") {
            cx.invalid(
                file,
                "slug",
                format!("`{s}` contains `-vs-`, which would make /compare/ paths ambiguous"),
            );
        }
    }
    let name = cx.required(file, "name", raw.name);
    let product = match raw.product {
        Some(p) => cx.slug(file, "product", Some(p)),
        None => None,
    };
    let tagline = cx.required(file, "tagline", raw.tagline);
    let category = cx.required(file, "category", raw.category);
    // The source's "Best for" row repeats the tagline on every page that shows it, so it
    // defaults to the tagline rather than being typed twice.
    let best_for = cx
        .optional(file, "best_for", raw.best_for)
        .or_else(|| tagline.clone());
    let description = cx.required(file, "description", raw.description);
    let license = cx.optional(file, "license", raw.license);
    let pricing = match raw.pricing {
        None => {
            cx.missing(file, "pricing.entry");
            None
        }
        Some(p) => {
            let entry = cx.required(file, "pricing.entry", p.entry);
            let details = cx.optional(file, "pricing.details", p.details);
            entry.map(|entry| Pricing { entry, details })
        }
    };
    let community = Community {
        ships: raw.community.ships,
        skips: raw.community.skips,
    };

    let n_reviews = raw.review.len();
    let mut reviews = Vec::with_capacity(n_reviews);
    let mut persona_review: BTreeMap<String, usize> = BTreeMap::new();
    for (i, r) in raw.review.into_iter().enumerate() {
        if let Some(r) = review(
            cx,
            file,
            i,
            r,
            personas,
            known_personas,
            personas_broken,
            &mut persona_review,
        ) {
            reviews.push(r);
        }
    }

    // A review with an error was dropped: counting the others would only add a
    // misleading split mismatch to the real error.
    let panel = if reviews.len() == n_reviews {
        panel(cx, file, &reviews, raw.panel)
    } else {
        None
    };

    if cx.errors.len() > before {
        return None;
    }
    Some(Tool {
        slug: slug?,
        name: name?,
        product,
        tagline: tagline?,
        category: category?,
        best_for: best_for?,
        description: description?,
        license,
        pricing: pricing?,
        community,
        reviews,
        panel: panel?,
    })
}

#[allow(clippy::too_many_arguments)]
fn review(
    cx: &mut Ctx,
    file: &str,
    i: usize,
    r: RawReview,
    personas: &[Persona],
    known_personas: &str,
    personas_broken: bool,
    persona_review: &mut BTreeMap<String, usize>,
) -> Option<Review> {
    let before = cx.errors.len();
    let f = |k: &str| format!("review[{i}].{k}");
    let text = cx.required(file, &f("text"), r.text);
    let score = match r.score {
        None => None,
        Some(v) if (0..=100).contains(&v) => Some(v as u8),
        Some(v) => {
            cx.errors.push(ContentError::ScoreOutOfRange {
                file: file.to_string(),
                field: f("score"),
                value: v,
            });
            None
        }
    };
    let persona = match r.persona {
        None => None,
        Some(p) => {
            let p = p.trim().to_string();
            if !personas_broken && !personas.iter().any(|k| k.slug == p) {
                cx.errors.push(ContentError::UnknownPersona {
                    file: file.to_string(),
                    field: f("persona"),
                    slug: p.clone(),
                    known: if known_personas.is_empty() {
                        "none: is content/personas.toml missing?".to_string()
                    } else {
                        known_personas.to_string()
                    },
                });
            } else if let Some(first) = persona_review.get(&p) {
                cx.invalid(
                    file,
                    &f("persona"),
                    format!("`{p}` already has a review in this listing (review[{first}]); a persona reviews a listing once"),
                );
            } else {
                persona_review.insert(p.clone(), i);
            }
            Some(p)
        }
    };
    let vote = r.vote.map(|v| match v {
        RawVote::Ship => Vote::Ship,
        RawVote::Skip => Vote::Skip,
    });
    if cx.errors.len() > before {
        return None;
    }
    Some(Review {
        persona,
        score,
        vote,
        text: text?,
    })
}

/// Derives the panel verdict: from the reviews' votes where they carry them (a stated
/// split or percentage must then agree), else from the stated split, else from the stated
/// percentage alone.
fn panel(
    cx: &mut Ctx,
    file: &str,
    reviews: &[Review],
    stated: Option<crate::raw::RawPanel>,
) -> Option<Panel> {
    let voted: Vec<(usize, Vote)> = reviews
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.vote.map(|v| (i, v)))
        .collect();
    if !voted.is_empty() && voted.len() != reviews.len() {
        // Index into the file's reviews: reviews that failed validation were dropped, in
        // which case those errors come first anyway.
        let missing = reviews.iter().position(|r| r.vote.is_none()).unwrap_or(0);
        cx.invalid(
            file,
            &format!("review[{missing}].vote"),
            format!(
                "{} of {} reviews carry ship/skip: give a vote on every review or on none (then state the panel split)",
                voted.len(),
                reviews.len()
            ),
        );
        return None;
    }

    let (st_ships, st_skips, st_percent) = match &stated {
        Some(p) => (p.ships, p.skips, p.ship_percent),
        None => (None, None, None),
    };
    let stated_split = match (st_ships, st_skips) {
        (Some(ships), Some(skips)) => {
            if ships + skips == 0 {
                cx.invalid(file, "panel", "a split of 0 ship / 0 skip has no verdict");
                return None;
            }
            Some(Split { ships, skips })
        }
        (Some(_), None) => {
            cx.missing(file, "panel.skips");
            return None;
        }
        (None, Some(_)) => {
            cx.missing(file, "panel.ships");
            return None;
        }
        (None, None) => None,
    };
    let stated_percent = match st_percent {
        None => None,
        Some(p) if (0..=100).contains(&p) => Some(p as u8),
        Some(p) => {
            cx.invalid(file, "panel.ship_percent", format!("{p}% is outside 0–100"));
            return None;
        }
    };

    let (split, basis) = if !voted.is_empty() {
        let ships = voted.iter().filter(|(_, v)| *v == Vote::Ship).count() as u32;
        let split = Split {
            ships,
            skips: voted.len() as u32 - ships,
        };
        if let Some(st) = stated_split {
            if st != split {
                cx.errors.push(ContentError::PanelMismatch {
                    file: file.to_string(),
                    field: "panel".into(),
                    stated: st.to_string(),
                    derived: split.to_string(),
                    derived_from: "counting the reviews' ship/skip".into(),
                });
                return None;
            }
        }
        (Some(split), PanelBasis::Reviews)
    } else if let Some(st) = stated_split {
        (Some(st), PanelBasis::StatedSplit)
    } else if stated_percent.is_some() {
        (None, PanelBasis::StatedPercent)
    } else {
        cx.missing(file, "panel");
        return None;
    };

    let (verdict, percent) = match split {
        Some(s) => (
            Verdict::from_split(s.ships, s.skips),
            ship_percent(s.ships, s.skips),
        ),
        None => {
            let p = stated_percent.unwrap_or(0);
            (Verdict::from_percent(p), p)
        }
    };
    if let (Some(st), Some(s)) = (stated_percent, split) {
        if st != percent {
            cx.errors.push(ContentError::PanelMismatch {
                file: file.to_string(),
                field: "panel.ship_percent".into(),
                stated: format!("{st}%"),
                derived: format!("{percent}%"),
                derived_from: if basis == PanelBasis::Reviews {
                    "counting the reviews' ship/skip".into()
                } else {
                    format!("the stated split ({s})")
                },
            });
            return None;
        }
    }
    Some(Panel {
        verdict,
        ship_percent: percent,
        split,
        basis,
    })
}
