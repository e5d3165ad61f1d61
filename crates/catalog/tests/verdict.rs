//! Verdict math: percentages, rounding, ties, and which source wins.

use catalog::{ship_percent, Catalog, PanelBasis, Split, Verdict};

#[test]
fn ship_percent_rounds_to_the_nearest_whole_number() {
    assert_eq!(ship_percent(3, 1), 75);
    assert_eq!(ship_percent(4, 0), 100);
    assert_eq!(ship_percent(0, 4), 0);
    assert_eq!(ship_percent(1, 2), 33); // 33.33…
    assert_eq!(ship_percent(2, 1), 67); // 66.66…
    assert_eq!(ship_percent(5, 2), 71); // 71.43
    assert_eq!(ship_percent(4, 3), 57); // 57.14
    assert_eq!(ship_percent(0, 0), 0);
}

#[test]
fn ship_percent_rounds_halves_up() {
    assert_eq!(ship_percent(1, 7), 13); // 12.5
    assert_eq!(ship_percent(3, 5), 38); // 37.5
    assert_eq!(ship_percent(5, 3), 63); // 62.5
    assert_eq!(ship_percent(1, 199), 1); // 0.5
}

#[test]
fn verdict_from_split_more_ships_ship_more_skips_skip_tie_split() {
    assert_eq!(Verdict::from_split(3, 1), Verdict::Ship);
    assert_eq!(Verdict::from_split(1, 3), Verdict::Skip);
    assert_eq!(Verdict::from_split(2, 2), Verdict::Split);
    assert_eq!(Verdict::from_split(0, 0), Verdict::Split);
}

#[test]
fn verdict_from_percent_alone() {
    assert_eq!(Verdict::from_percent(75), Verdict::Ship);
    assert_eq!(Verdict::from_percent(51), Verdict::Ship);
    assert_eq!(Verdict::from_percent(50), Verdict::Split);
    assert_eq!(Verdict::from_percent(49), Verdict::Skip);
}

fn tool_with(panel_and_reviews: &str) -> Catalog {
    let text = format!(
        "slug = \"t\"\nname = \"T\"\ntagline = \"x\"\ncategory = \"C\"\ndescription = \"d\"\n\
         [pricing]\nentry = \"Free\"\n{panel_and_reviews}"
    );
    match Catalog::from_files([("tools/t.toml", text.as_str())]) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn votes(v: &[&str]) -> String {
    v.iter()
        .map(|v| format!("[[review]]\nvote = \"{v}\"\ntext = \"t\"\n"))
        .collect()
}

#[test]
fn a_tie_in_the_reviews_is_a_split_at_50_percent() {
    let cat = tool_with(&votes(&["ship", "skip", "skip", "ship"]));
    let p = cat.tools[0].panel;
    assert_eq!(p.verdict, Verdict::Split);
    assert_eq!(p.ship_percent, 50);
    assert_eq!(p.split, Some(Split { ships: 2, skips: 2 }));
    assert_eq!(p.summary(), "Split · 2 ship / 2 skip");
}

#[test]
fn reviews_win_over_nothing_stated_and_round() {
    let cat = tool_with(&votes(&["ship", "ship", "skip"]));
    let p = cat.tools[0].panel;
    assert_eq!(
        (p.verdict, p.ship_percent, p.basis),
        (Verdict::Ship, 67, PanelBasis::Reviews)
    );
}

#[test]
fn more_skips_is_skip() {
    let cat = tool_with(&votes(&["skip", "ship", "skip"]));
    assert_eq!(cat.tools[0].panel.verdict, Verdict::Skip);
    assert_eq!(cat.tools[0].panel.ship_percent, 33);
}

#[test]
fn a_stated_split_gives_the_percentage() {
    let cat = tool_with("[panel]\nships = 5\nskips = 3\n");
    let p = cat.tools[0].panel;
    assert_eq!(
        (p.verdict, p.ship_percent, p.basis),
        (Verdict::Ship, 63, PanelBasis::StatedSplit)
    );
}

#[test]
fn a_stated_split_tie_is_a_split() {
    let cat = tool_with("[panel]\nships = 1\nskips = 1\nship_percent = 50\n");
    assert_eq!(cat.tools[0].panel.verdict, Verdict::Split);
}

#[test]
fn split_texts() {
    let s = Split { ships: 4, skips: 0 };
    assert_eq!(s.to_string(), "4 ship / 0 skip");
    assert_eq!(s.short(), "4-0");
    assert_eq!(s.counted(), "4 ships · 0 skips");
    assert_eq!(Split { ships: 1, skips: 1 }.counted(), "1 ship · 1 skip");
}
