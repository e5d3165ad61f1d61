//! The built-in content: how it models the seeds' disagreements, and the views pages use.
//! (tests/seeds.rs checks every fact against the seed pages themselves.)

use catalog::{Catalog, PanelBasis, Split, Verdict, Vote};

fn catalog() -> Catalog {
    match Catalog::builtin() {
        Ok(c) => c,
        Err(e) => panic!("builtin content does not load: {e}"),
    }
}

#[test]
fn builtin_has_the_seed_listings_comparisons_and_personas() {
    let cat = catalog();
    let slugs: Vec<&str> = cat.tools.iter().map(|t| t.slug.as_str()).collect();
    assert_eq!(
        slugs,
        [
            "claude-4-sonnet",
            "karpathy-coding-skills",
            "karpathy-skills",
            "skypilot-research-agents",
            "smolvlm2-2b",
            "smolvlm2-2b-compact",
            "smolvlm2-turbo",
        ]
    );
    let compares: Vec<&str> = cat.comparisons.iter().map(|c| c.slug.as_str()).collect();
    assert_eq!(
        compares,
        [
            "claude-4-sonnet-vs-smolvlm2-2b",
            "karpathy-coding-skills-vs-smolvlm2-turbo",
            "karpathy-skills-vs-smolvlm2-2b",
            "skypilot-research-agents-vs-smolvlm2-2b-compact",
        ]
    );
    let personas: Vec<&str> = cat.personas.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        personas,
        ["Builder", "Skeptic", "Futurist", "Founder", "Creator"]
    );
    assert_eq!(Catalog::builtin_static().map(|c| c.tools.len()), Ok(7));
}

#[test]
fn smolvlm2_2b_is_two_review_rounds_3_1_and_4_0() {
    let cat = catalog();
    let a = cat.tool("smolvlm2-2b").expect("3-1 round");
    let b = cat.tool("smolvlm2-2b-compact").expect("4-0 round");
    assert_eq!(a.name, "SmolVLM2-2B");
    assert_eq!(b.name, "SmolVLM2-2B");
    assert_eq!(
        a.tagline,
        "2B-parameter vision-language model that runs on your device, not theirs"
    );
    assert_eq!(
        b.tagline,
        "Open-source vision-language model that actually runs on your phone"
    );
    assert_eq!(a.panel.split, Some(Split { ships: 3, skips: 1 }));
    assert_eq!(a.panel.ship_percent, 75);
    assert_eq!(a.panel.basis, PanelBasis::Reviews);
    assert_eq!(b.panel.split, Some(Split { ships: 4, skips: 0 }));
    assert_eq!(b.panel.ship_percent, 100);
    assert_eq!(b.panel.basis, PanelBasis::StatedSplit);
    assert_eq!(a.license.as_deref(), Some("Apache 2.0"));
    assert_eq!(
        a.pricing.details.as_deref(),
        Some("Free / Open weights (Apache 2.0)")
    );
    let others: Vec<&str> = cat
        .other_rounds(a)
        .iter()
        .map(|t| t.slug.as_str())
        .collect();
    assert_eq!(others, ["smolvlm2-2b-compact"]);
    // Both rounds appear in the comparisons their source pages show.
    assert_eq!(cat.comparisons_with("smolvlm2-2b").len(), 2);
    assert_eq!(cat.comparisons_with("smolvlm2-2b-compact").len(), 1);
}

#[test]
fn karpathy_skills_and_karpathy_coding_skills_are_two_listings_of_one_product() {
    let cat = catalog();
    let a = cat.tool("karpathy-skills").expect("karpathy-skills");
    let b = cat
        .tool("karpathy-coding-skills")
        .expect("karpathy-coding-skills");
    assert_eq!(a.product, b.product);
    assert_eq!(cat.other_rounds(a)[0].slug, "karpathy-coding-skills");
    // Seed 000: Builder 80 ship, Skeptic 45 skip, Futurist 80 ship, no Founder, Creator 80 ship.
    let takes: Vec<(Option<&str>, Option<u8>, Option<Vote>)> = a
        .reviews
        .iter()
        .map(|r| (r.persona.as_deref(), r.score, r.vote))
        .collect();
    assert_eq!(
        takes,
        [
            (Some("builder"), Some(80), Some(Vote::Ship)),
            (Some("skeptic"), Some(45), Some(Vote::Skip)),
            (Some("futurist"), Some(80), Some(Vote::Ship)),
            (Some("creator"), Some(80), Some(Vote::Ship)),
        ]
    );
    assert_eq!(a.panel.split, Some(Split { ships: 3, skips: 1 }));
    // Seed 001 states only "75% Panel ship".
    assert_eq!(b.panel.split, None);
    assert_eq!(b.panel.ship_percent, 75);
    assert_eq!(b.panel.verdict, Verdict::Ship);
    assert_eq!(b.panel.basis, PanelBasis::StatedPercent);
}

#[test]
fn quotes_are_attributed_only_where_evident() {
    let cat = catalog();
    let personas = |slug: &str| -> Vec<Option<String>> {
        cat.tool(slug)
            .expect(slug)
            .reviews
            .iter()
            .map(|r| r.persona.clone())
            .collect()
    };
    let s = |p: &str| Some(p.to_string());
    assert_eq!(
        personas("smolvlm2-turbo"),
        [s("builder"), s("skeptic"), s("futurist"), s("founder")]
    );
    assert_eq!(
        personas("smolvlm2-2b-compact"),
        [s("builder"), s("skeptic"), s("futurist"), s("founder")]
    );
    assert_eq!(
        personas("karpathy-coding-skills"),
        [None, None, None, s("creator")]
    );
    assert_eq!(
        personas("skypilot-research-agents"),
        [None, None, None, s("creator")]
    );
    for slug in ["smolvlm2-turbo", "smolvlm2-2b-compact"] {
        for r in &cat.tool(slug).expect(slug).reviews {
            let opening = match r.persona.as_deref() {
                Some("builder") => "The primitive",
                Some("skeptic") => "Direct competitor",
                Some("futurist") => "The thesis",
                Some("founder") => "The buyer",
                other => panic!("unexpected persona {other:?}"),
            };
            assert!(r.text.starts_with(opening), "{slug}: {}", r.text);
        }
    }
}

#[test]
fn skypilot_at_50_percent_is_a_split() {
    let cat = catalog();
    let t = cat.tool("skypilot-research-agents").expect("skypilot");
    assert_eq!(t.panel.ship_percent, 50);
    assert_eq!(t.panel.verdict, Verdict::Split);
    assert_eq!(t.panel.summary(), "Split · 50% panel ship");
}

#[test]
fn claude_4_sonnet_is_4_0_from_its_scored_reviews() {
    let cat = catalog();
    let t = cat.tool("claude-4-sonnet").expect("claude");
    let scores: Vec<Option<u8>> = t.reviews.iter().map(|r| r.score).collect();
    assert_eq!(scores, [Some(84), Some(78), Some(81), Some(72)]);
    assert_eq!(t.panel.summary(), "Ship · 4 ship / 0 skip");
    assert_eq!(t.initial(), 'C');
    assert!(t.review_by("creator").is_none());
}

#[test]
fn compare_pages_keep_the_source_order_and_the_reverse_slug_redirects() {
    let cat = catalog();
    let page = cat
        .compare_page("karpathy-skills-vs-smolvlm2-2b")
        .expect("compare page");
    assert_eq!(page.title, "SmolVLM2-2B vs Karpathy Skills");
    assert_eq!(page.tools[0].slug, "smolvlm2-2b");
    let (c, canonical) = cat
        .comparison_for_path("smolvlm2-2b-vs-karpathy-skills")
        .expect("reverse order");
    assert!(!canonical);
    assert_eq!(c.slug, "karpathy-skills-vs-smolvlm2-2b");
    assert_eq!(c.reversed_slug(), "smolvlm2-2b-vs-karpathy-skills");
    assert!(cat
        .comparison_for_path("karpathy-skills-vs-smolvlm2-2b")
        .is_some_and(|(_, c)| c));
    assert!(cat.comparison_for_path("nope-vs-smolvlm2-2b").is_none());
}

#[test]
fn scorecard_with_unattributed_quotes_pairs_them_after_the_persona_rows() {
    let cat = catalog();
    let cmp = cat
        .comparison("karpathy-coding-skills-vs-smolvlm2-turbo")
        .expect("cmp");
    let rows = cat.scorecard(cmp);
    let shape: Vec<(Option<&str>, bool, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.persona.as_ref().map(|p| p.slug.as_str()),
                r.takes[0].is_some(),
                r.takes[1].is_some(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (Some("builder"), false, true),
            (Some("skeptic"), false, true),
            (Some("futurist"), false, true),
            (Some("founder"), false, true),
            (Some("creator"), true, false),
            (None, true, false),
            (None, true, false),
            (None, true, false),
        ]
    );
}

#[test]
fn reviewer_page_lists_the_personas_verdicts_across_tools() {
    let cat = catalog();
    let takes = cat.persona_takes("founder");
    let got: Vec<(&str, Option<u8>)> = takes
        .iter()
        .map(|t| (t.tool.slug.as_str(), t.review.score))
        .collect();
    assert_eq!(
        got,
        [
            ("claude-4-sonnet", Some(72)),
            ("smolvlm2-2b", Some(52)),
            ("smolvlm2-2b-compact", None),
            ("smolvlm2-turbo", None),
        ]
    );
    assert_eq!(cat.persona_takes("creator").len(), 3);
}

#[test]
fn tools_by_category() {
    let cat = catalog();
    let groups = cat.categories();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].name, "Developer Tools");
    assert_eq!(groups[0].slug, "developer-tools");
    assert_eq!(groups[0].tools.len(), 7);
    assert_eq!(groups[0].comparisons.len(), 4);
}

#[test]
fn community_has_no_votes_yet() {
    for t in catalog().tools {
        assert_eq!(
            t.community.summary(),
            "No community votes yet",
            "{}",
            t.slug
        );
        assert_eq!(t.community.ship_percent(), None);
    }
}

#[test]
fn builtin_files_are_the_content_directory() {
    let files = Catalog::builtin_files();
    assert!(files.iter().any(|(p, _)| *p == "content/personas.toml"));
    assert!(files
        .iter()
        .any(|(p, _)| *p == "content/tools/smolvlm2-2b.toml"));
    assert_eq!(
        files
            .iter()
            .filter(|(p, _)| p.starts_with("content/tools/"))
            .count(),
        7
    );
}
