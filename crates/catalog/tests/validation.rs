//! Each kind of bad content gets its own error, naming the file and the field.

use catalog::{Catalog, ContentError, LoadError, PanelBasis, Split, Verdict};

const PERSONAS: &str = r#"
[[persona]]
slug = "builder"
name = "Builder"
focus = "DX"

[[persona]]
slug = "skeptic"
name = "Skeptic"
focus = "Competition"
"#;

/// A minimal valid listing; `extra` is appended (more keys, panel, reviews).
fn tool(slug: &str, extra: &str) -> String {
    format!(
        r#"slug = "{slug}"
name = "Tool {slug}"
tagline = "Does things"
category = "Developer Tools"
description = "A tool."

[pricing]
entry = "Free"
{extra}"#
    )
}

const TWO_SHIPS: &str = r#"
[[review]]
persona = "builder"
score = 80
vote = "ship"
text = "Good."

[[review]]
persona = "skeptic"
score = 70
vote = "ship"
text = "Fine."
"#;

fn load(files: &[(&str, &str)]) -> Result<Catalog, LoadError> {
    Catalog::from_files(files.iter().copied())
}

/// Loads, expecting exactly one error, and returns it.
fn one_error(files: &[(&str, &str)]) -> ContentError {
    match load(files) {
        Ok(_) => panic!("content with a mistake loaded"),
        Err(e) => {
            assert_eq!(e.errors.len(), 1, "expected one error, got: {e}");
            e.errors[0].clone()
        }
    }
}

#[test]
fn valid_minimal_content_loads() {
    let a = tool("a", TWO_SHIPS);
    let b = tool("b", "[panel]\nship_percent = 40\n");
    let cat = load(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
        ("content/tools/b.toml", &b),
        ("content/compare/a-vs-b.toml", "tools = [\"b\", \"a\"]"),
        ("content/README.md", "not toml: ignored"),
    ])
    .expect("loads");
    assert_eq!(cat.tools.len(), 2);
    assert_eq!(cat.comparisons[0].slug, "a-vs-b");
    assert_eq!(cat.comparisons[0].tools, ["b".to_string(), "a".to_string()]);
    let a = cat.tool("a").expect("a");
    assert_eq!(
        a.best_for, "Does things",
        "best_for defaults to the tagline"
    );
    assert_eq!(a.panel.split, Some(Split { ships: 2, skips: 0 }));
    assert_eq!(a.panel.basis, PanelBasis::Reviews);
    let b = cat.tool("b").expect("b");
    assert_eq!(b.panel.verdict, Verdict::Skip);
    assert_eq!(b.panel.basis, PanelBasis::StatedPercent);
}

#[test]
fn unknown_tool_in_a_comparison() {
    let a = tool("a", TWO_SHIPS);
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
        ("content/compare/a-vs-zed.toml", "tools = [\"a\", \"zed\"]"),
    ]);
    assert_eq!(
        e.to_string(),
        "content/compare/a-vs-zed.toml: `tools[1]`: unknown tool `zed` (no file in content/tools/ has this slug)"
    );
    assert_eq!(e.file(), "content/compare/a-vs-zed.toml");
    assert_eq!(e.field(), Some("tools[1]"));
}

#[test]
fn score_above_100() {
    let a = tool("a", &TWO_SHIPS.replace("score = 70", "score = 120"));
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: `review[1].score`: score 120 is outside 0–100"
    );
}

#[test]
fn negative_score() {
    let a = tool("a", &TWO_SHIPS.replace("score = 80", "score = -1"));
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: `review[0].score`: score -1 is outside 0–100"
    );
}

#[test]
fn duplicate_tool_slug() {
    let a = tool("a", TWO_SHIPS);
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
        ("content/tools/a-copy.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a-copy.toml: `slug`: duplicate slug `a`, already used by content/tools/a.toml"
    );
}

#[test]
fn duplicate_comparison() {
    let a = tool("a", TWO_SHIPS);
    let b = tool("b", TWO_SHIPS);
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
        ("content/tools/b.toml", &b),
        ("content/compare/a-vs-b.toml", "tools = [\"a\", \"b\"]"),
        ("content/more/compare/a-vs-b.toml", "tools = [\"b\", \"a\"]"),
    ]);
    assert_eq!(
        e.to_string(),
        "content/more/compare/a-vs-b.toml: `tools`: duplicate slug `a-vs-b`, already used by content/compare/a-vs-b.toml"
    );
}

#[test]
fn duplicate_persona_slug() {
    let personas = format!(
        "{PERSONAS}\n[[persona]]\nslug = \"builder\"\nname = \"Builder 2\"\nfocus = \"x\"\n"
    );
    let e = one_error(&[("content/personas.toml", &personas)]);
    assert_eq!(
        e.to_string(),
        "content/personas.toml: `persona[2].slug`: duplicate slug `builder`, already used by content/personas.toml"
    );
}

#[test]
fn missing_required_field() {
    let a = tool("a", TWO_SHIPS).replace("tagline = \"Does things\"\n", "");
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: missing required field `tagline`"
    );
}

#[test]
fn blank_required_field_counts_as_missing() {
    let a = tool("a", TWO_SHIPS).replace("name = \"Tool a\"", "name = \"  \"");
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: missing required field `name`"
    );
}

#[test]
fn missing_review_text() {
    let a = tool("a", &TWO_SHIPS.replace("text = \"Fine.\"\n", ""));
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: missing required field `review[1].text`"
    );
}

#[test]
fn missing_pricing() {
    let a = tool("a", TWO_SHIPS).replace("[pricing]\nentry = \"Free\"\n", "");
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: missing required field `pricing.entry`"
    );
}

#[test]
fn missing_panel_when_no_review_votes() {
    let a = tool("a", "[[review]]\ntext = \"A quote.\"\n");
    let e = one_error(&[("content/tools/a.toml", &a)]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: missing required field `panel`"
    );
}

#[test]
fn missing_comparison_tools() {
    let e = one_error(&[("content/compare/a-vs-b.toml", "# empty")]);
    assert_eq!(
        e.to_string(),
        "content/compare/a-vs-b.toml: missing required field `tools`"
    );
}

#[test]
fn stated_split_disagreeing_with_the_reviews() {
    let a = tool("a", &format!("[panel]\nships = 1\nskips = 1\n{TWO_SHIPS}"));
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: `panel`: the file states 1 ship / 1 skip, but counting the reviews' ship/skip gives 2 ship / 0 skip"
    );
}

#[test]
fn stated_percent_disagreeing_with_the_reviews() {
    let a = tool("a", &format!("[panel]\nship_percent = 75\n{TWO_SHIPS}"));
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: `panel.ship_percent`: the file states 75%, but counting the reviews' ship/skip gives 100%"
    );
}

#[test]
fn stated_percent_disagreeing_with_the_stated_split() {
    let a = tool("a", "[panel]\nships = 3\nskips = 1\nship_percent = 70\n");
    let e = one_error(&[("content/tools/a.toml", &a)]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: `panel.ship_percent`: the file states 70%, but the stated split (3 ship / 1 skip) gives 75%"
    );
}

#[test]
fn half_of_a_stated_split() {
    let a = tool("a", "[panel]\nships = 3\n");
    let e = one_error(&[("content/tools/a.toml", &a)]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: missing required field `panel.skips`"
    );
}

#[test]
fn some_reviews_voting_and_others_not() {
    let a = tool(
        "a",
        &TWO_SHIPS.replace("vote = \"ship\"\ntext = \"Fine.\"", "text = \"Fine.\""),
    );
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: `review[1].vote`: 1 of 2 reviews carry ship/skip: give a vote on every review or on none (then state the panel split)"
    );
}

#[test]
fn unknown_persona() {
    let a = tool(
        "a",
        &TWO_SHIPS.replace("persona = \"skeptic\"", "persona = \"critic\""),
    );
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: `review[1].persona`: unknown persona `critic` (known: builder, skeptic)"
    );
}

#[test]
fn a_persona_reviewing_a_listing_twice() {
    let a = tool(
        "a",
        &TWO_SHIPS.replace("persona = \"skeptic\"", "persona = \"builder\""),
    );
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: `review[1].persona`: `builder` already has a review in this listing (review[0]); a persona reviews a listing once"
    );
}

#[test]
fn bad_slug() {
    let a = tool("A Tool", TWO_SHIPS);
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: `slug`: `A Tool` is not a slug (lowercase letters and digits joined by single hyphens)"
    );
}

#[test]
fn slug_with_vs_is_ambiguous() {
    let a = tool("a-vs-b", TWO_SHIPS);
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(
        e.to_string(),
        "content/tools/a.toml: `slug`: `a-vs-b` contains `-vs-`, which would make /compare/ paths ambiguous"
    );
}

#[test]
fn comparison_file_not_named_alphabetically() {
    let a = tool("a", TWO_SHIPS);
    let b = tool("b", TWO_SHIPS);
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
        ("content/tools/b.toml", &b),
        ("content/compare/b-vs-a.toml", "tools = [\"b\", \"a\"]"),
    ]);
    assert_eq!(
        e.to_string(),
        "content/compare/b-vs-a.toml: `tools`: this comparison's file must be named compare/a-vs-b.toml (tool slugs in alphabetical order)"
    );
}

#[test]
fn comparison_of_three_tools() {
    let e = one_error(&[(
        "content/compare/a-vs-b.toml",
        "tools = [\"a\", \"b\", \"c\"]",
    )]);
    assert_eq!(
        e.to_string(),
        "content/compare/a-vs-b.toml: `tools`: a comparison names exactly 2 tools, this one names 3"
    );
}

#[test]
fn unknown_key_is_a_syntax_error_naming_the_key() {
    let a = tool("a", TWO_SHIPS).replace("tagline =", "tag_line =");
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    let msg = e.to_string();
    assert!(matches!(e, ContentError::Syntax { .. }), "{msg}");
    assert!(msg.starts_with("content/tools/a.toml: "), "{msg}");
    assert!(msg.contains("unknown field `tag_line`"), "{msg}");
}

#[test]
fn wrong_vote_word_is_a_syntax_error() {
    let a = tool(
        "a",
        &TWO_SHIPS.replace(
            "vote = \"ship\"\ntext = \"Good.\"",
            "vote = \"yes\"\ntext = \"Good.\"",
        ),
    );
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    let msg = e.to_string();
    assert!(msg.starts_with("content/tools/a.toml: "), "{msg}");
    assert!(
        msg.contains("unknown variant `yes`, expected `ship` or `skip`"),
        "{msg}"
    );
}

#[test]
fn toml_in_an_unknown_place() {
    let e = one_error(&[("content/tool/a.toml", "slug = \"a\"")]);
    assert_eq!(
        e.to_string(),
        "content/tool/a.toml: not a content file (expected personas.toml, tools/<slug>.toml or compare/<a>-vs-<b>.toml)"
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let a = tool("a", &TWO_SHIPS.replace("score = 70", "score = 101"));
    let b = tool("b", TWO_SHIPS).replace("category = \"Developer Tools\"\n", "");
    let err = load(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
        ("content/tools/b.toml", &b),
        ("content/compare/a-vs-c.toml", "tools = [\"a\", \"c\"]"),
    ])
    .expect_err("three mistakes");
    let text = err.to_string();
    assert_eq!(
        text,
        "3 problems in the content:\n  \
         - content/tools/a.toml: `review[1].score`: score 101 is outside 0–100\n  \
         - content/tools/b.toml: missing required field `category`\n  \
         - content/compare/a-vs-c.toml: `tools[1]`: unknown tool `c` (no file in content/tools/ has this slug)"
    );
}

#[test]
fn broken_tool_file_does_not_also_make_its_comparisons_unknown() {
    let a = tool("a", TWO_SHIPS);
    let b = tool("b", &TWO_SHIPS.replace("score = 70", "score = 700"));
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
        ("content/tools/b.toml", &b),
        ("content/compare/a-vs-b.toml", "tools = [\"a\", \"b\"]"),
    ]);
    assert_eq!(e.field(), Some("review[1].score"));
}

#[test]
fn a_bad_review_is_reported_once_not_also_as_a_split_mismatch() {
    let a = tool(
        "a",
        &format!(
            "[panel]\nships = 2\nskips = 0\n{}",
            TWO_SHIPS.replace("score = 70", "score = 170")
        ),
    );
    let e = one_error(&[
        ("content/personas.toml", PERSONAS),
        ("content/tools/a.toml", &a),
    ]);
    assert_eq!(e.field(), Some("review[1].score"));
}
