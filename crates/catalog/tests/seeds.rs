//! Every fact of the seed documents (tests/seeds/, verbatim captures of the source site)
//! against `Catalog::builtin()`: the test reads the pages themselves, so the expected
//! values are the source's, not ours.

use catalog::{Catalog, Comparison, Tool};

const SEED_000: &str = include_str!("seeds/000_f43a4d365f8ac20b.txt");
const SEED_001: &str = include_str!("seeds/001_cc8b36d9ce9530dc.txt");
const SEED_002: &str = include_str!("seeds/002_77bf4c884fbf71e4.txt");
const SEED_003: &str = include_str!("seeds/003_f65cc36aa1dc82ca.txt");
const SEED_004: &str = include_str!("seeds/004_2244f9988e5beb7c.txt");

fn catalog() -> Catalog {
    match Catalog::builtin() {
        Ok(c) => c,
        Err(e) => panic!("builtin content does not load: {e}"),
    }
}

/// The non-empty lines of a seed, trimmed.
fn lines(seed: &str) -> Vec<&str> {
    seed.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

fn index_of(lines: &[&str], what: &str) -> usize {
    lines
        .iter()
        .position(|l| *l == what)
        .unwrap_or_else(|| panic!("seed has no line {what:?}"))
}

/// The lines between "Reviewer scorecard" and the newsletter box.
fn scorecard_lines<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let start = index_of(lines, "Reviewer scorecard") + 1;
    let end = index_of(lines, "Weekly AI Tool Verdicts");
    lines[start..end].to_vec()
}

/// The comparison a seed shows, found by its title line "A vs B".
fn comparison_titled<'c>(cat: &'c Catalog, title: &str) -> &'c Comparison {
    cat.comparisons
        .iter()
        .find(|c| cat.compare_page(&c.slug).map(|p| p.title) == Some(title.to_string()))
        .unwrap_or_else(|| panic!("no comparison titled {title:?}"))
}

fn tools_of<'c>(cat: &'c Catalog, cmp: &Comparison) -> [&'c Tool; 2] {
    [
        cat.tool(&cmp.tools[0]).expect("left tool"),
        cat.tool(&cmp.tools[1]).expect("right tool"),
    ]
}

/// A tool card of a compare page: [avatar,] category, name, tagline, [verdict,] "N%",
/// "Panel ship", ["—",] "Community", entry, "Entry", description.
fn check_card(lines: &[&str], from: usize, tool: &Tool, full_layout: bool) -> usize {
    let i = from
        + lines[from..]
            .iter()
            .position(|l| *l == tool.name)
            .unwrap_or_else(|| panic!("no card for {}", tool.name));
    assert_eq!(lines[i - 1], tool.category, "{} category", tool.name);
    if full_layout {
        assert_eq!(
            lines[i - 2],
            tool.initial().to_string(),
            "{} avatar",
            tool.name
        );
    }
    assert_eq!(lines[i + 1], tool.tagline, "{} tagline", tool.name);
    let mut j = i + 2;
    if full_layout {
        assert_eq!(
            lines[j],
            tool.panel.verdict.as_str(),
            "{} verdict pill",
            tool.name
        );
        j += 1;
    }
    assert_eq!(
        lines[j],
        format!("{}%", tool.panel.ship_percent),
        "{} % panel ship",
        tool.name
    );
    assert_eq!(lines[j + 1], "Panel ship");
    j += 2;
    if lines[j] == "—" {
        assert_eq!(
            tool.community.total(),
            0,
            "{}: community shows —",
            tool.name
        );
        j += 1;
    }
    assert_eq!(lines[j], "Community");
    assert_eq!(
        lines[j + 1],
        tool.pricing.entry,
        "{} entry price",
        tool.name
    );
    assert_eq!(lines[j + 2], "Entry");
    assert_eq!(lines[j + 3], tool.description, "{} description", tool.name);
    j + 4
}

/// The "Decision" table of the full layout.
fn check_decision_table(lines: &[&str], tools: [&Tool; 2]) {
    let d = index_of(lines, "Decision");
    assert_eq!(lines[d + 1], tools[0].name);
    assert_eq!(lines[d + 2], tools[1].name);
    let row = |label: &str| {
        let i = index_of(lines, label);
        [lines[i + 1].to_string(), lines[i + 2].to_string()]
    };
    let both = |f: &dyn Fn(&Tool) -> String| [f(tools[0]), f(tools[1])];
    assert_eq!(row("Panel verdict"), both(&|t| t.panel.summary()));
    assert_eq!(row("Pricing"), both(&|t| t.pricing.summary().to_string()));
    assert_eq!(row("Best for"), both(&|t| t.best_for.clone()));
    assert_eq!(row("Category"), both(&|t| t.category.clone()));
    // "Community" appears on the cards too: take the table's, after "Decision".
    let c = d + index_of(&lines[d..], "Community");
    assert_eq!(
        [lines[c + 1].to_string(), lines[c + 2].to_string()],
        both(&|t| t.community.summary())
    );
}

type Take = Option<(u8, String, String)>;

/// The full layout's scorecard: persona headings, then per tool "NN/100 · vote" + text
/// or "No panel take".
fn parse_scorecard(card: &[&str], persona_names: &[String]) -> Vec<(String, Vec<Take>)> {
    let mut rows: Vec<(String, Vec<Take>)> = Vec::new();
    let mut i = 0;
    while i < card.len() {
        let l = card[i];
        if persona_names.iter().any(|p| p == l) {
            rows.push((l.to_string(), Vec::new()));
            i += 1;
            continue;
        }
        let row = &mut rows
            .last_mut()
            .expect("a take before any persona heading")
            .1;
        if l == "No panel take" {
            row.push(None);
            i += 1;
        } else if let Some((score, _vote)) = l.split_once("/100 · ") {
            // The label as the page writes it is what Review::score_label gives.
            let label = l.to_string();
            let score: u8 = score.parse().expect("score");
            row.push(Some((score, label, card[i + 1].to_string())));
            i += 2;
        } else {
            panic!("unexpected scorecard line {l:?}");
        }
    }
    rows
}

fn check_full_compare(seed: &str, title: &str) {
    let cat = catalog();
    let lines = lines(seed);
    assert_eq!(lines[0], format!("Compare/{title}"));
    assert_eq!(lines[2], title);
    let cmp = comparison_titled(&cat, title);
    let tools = tools_of(&cat, cmp);
    let after = check_card(&lines, 3, tools[0], true);
    check_card(&lines, after, tools[1], true);
    check_decision_table(&lines, tools);
    assert_eq!(
        *lines.last().expect("title line"),
        format!("{title}: Which AI Tool Should You Ship? — Ship or Skip")
    );

    let names: Vec<String> = cat.personas.iter().map(|p| p.name.clone()).collect();
    let seed_rows = parse_scorecard(&scorecard_lines(&lines), &names);
    let ours: Vec<(String, Vec<Take>)> = cat
        .scorecard(cmp)
        .into_iter()
        .map(|row| {
            let persona = row
                .persona
                .expect("full-layout seeds attribute every review");
            let takes = row
                .takes
                .iter()
                .map(|t| {
                    t.as_ref().map(|r| {
                        (
                            r.score.expect("score"),
                            r.score_label().expect("label"),
                            r.text.clone(),
                        )
                    })
                })
                .collect();
            (persona.name, takes)
        })
        .collect();
    assert_eq!(ours, seed_rows);
}

/// Quote-only layout: the quotes alternate left tool, right tool, in each tool's review
/// order.
fn check_quote_compare(seed: &str, title: &str) {
    let cat = catalog();
    let lines = lines(seed);
    assert_eq!(lines[1], title);
    let cmp = comparison_titled(&cat, title);
    let tools = tools_of(&cat, cmp);
    let after = check_card(&lines, 2, tools[0], false);
    check_card(&lines, after, tools[1], false);

    let quotes: Vec<String> = scorecard_lines(&lines)
        .iter()
        .map(|q| {
            q.strip_prefix('“')
                .and_then(|q| q.strip_suffix('”'))
                .unwrap_or_else(|| panic!("not a quote: {q:?}"))
                .to_string()
        })
        .collect();
    for (side, tool) in tools.iter().enumerate() {
        let seed_texts: Vec<&String> = quotes.iter().skip(side).step_by(2).collect();
        let ours: Vec<&String> = tool.reviews.iter().map(|r| &r.text).collect();
        assert_eq!(ours, seed_texts, "{} reviews", tool.name);
        // These pages show no scores or votes: none may be invented.
        assert!(tool
            .reviews
            .iter()
            .all(|r| r.score.is_none() && r.vote.is_none()));
    }
}

#[test]
fn seed_000_smolvlm2_2b_vs_karpathy_skills() {
    check_full_compare(SEED_000, "SmolVLM2-2B vs Karpathy Skills");
}

#[test]
fn seed_003_claude_4_sonnet_vs_smolvlm2_2b() {
    check_full_compare(SEED_003, "Claude 4 Sonnet vs SmolVLM2-2B");
}

#[test]
fn seed_001_karpathy_coding_skills_vs_smolvlm2_turbo() {
    check_quote_compare(SEED_001, "Karpathy Coding Skills vs SmolVLM2 Turbo");
}

#[test]
fn seed_002_smolvlm2_2b_vs_skypilot_research_agents() {
    check_quote_compare(SEED_002, "SmolVLM2-2B vs SkyPilot Research Agents");
}

#[test]
fn seed_004_tool_page_of_the_4_0_round() {
    let cat = catalog();
    let lines = lines(SEED_004);
    let tool = cat
        .tools
        .iter()
        .find(|t| t.name == lines[0] && t.tagline == lines[1])
        .expect("a listing with the tool page's name and tagline");
    assert_eq!(lines[2], "Expert verdict");
    assert_eq!(lines[3], tool.panel.verdict.as_str());
    let split = tool.panel.split.expect("the tool page states a split");
    assert_eq!(lines[4], format!("{}The Panel's Take", split.short()));
    assert_eq!(lines[5], tool.description);
    let share = index_of(&lines, "Share this verdict") + 1;
    assert_eq!(
        lines[share],
        tool.share_text(
            "shiporskip.io/tool/hugging-face-smolvlm2-2b-compact-vision-language-model-on-device"
        )
    );
    assert!(lines.contains(
        &format!(
            "Compare {} with every other {} tool reviewed by our panel.",
            tool.name, tool.category
        )
        .as_str()
    ));
    let quotes: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix('“').and_then(|q| q.strip_suffix('”')))
        .collect();
    let ours: Vec<&str> = tool.reviews.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(ours, quotes);
    // The same listing as seed 002's left card.
    let cmp = comparison_titled(&cat, "SmolVLM2-2B vs SkyPilot Research Agents");
    assert_eq!(cmp.tools[0], tool.slug);
}

#[test]
fn every_seed_page_is_a_comparison_and_every_comparison_a_seed_page() {
    let cat = catalog();
    let mut titles: Vec<String> = [SEED_000, SEED_001, SEED_002, SEED_003]
        .iter()
        .map(|s| {
            let l = lines(s);
            let i = index_of(&l, "AI tool comparison");
            l[i + 1].to_string()
        })
        .collect();
    titles.sort();
    let mut ours: Vec<String> = cat
        .comparisons
        .iter()
        .filter_map(|c| cat.compare_page(&c.slug).map(|p| p.title))
        .collect();
    ours.sort();
    assert_eq!(ours, titles);
}
