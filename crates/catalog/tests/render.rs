//! Badges, OG images and embeds: well-formed XML, accessible, escaped, unique ids, text
//! laid out with the font's real metrics, and rendered by resvg (what xtask uses).

use catalog::{
    badge_alt, badge_html, badge_markdown, badge_svg, embed_iframe_html, font_data, oembed_json,
    og_compare_svg, og_tool_svg, text_path, text_width, BadgeStyle, BadgeVariant, Catalog,
    Community, FontWeight, Panel, PanelBasis, Pricing, Split, Tool, Verdict,
};
use resvg::usvg;
use std::collections::BTreeSet;

fn catalog() -> Catalog {
    match Catalog::builtin() {
        Ok(c) => c,
        Err(e) => panic!("builtin content does not load: {e}"),
    }
}

/// A listing with hostile text everywhere a badge or embed shows text.
fn hostile() -> Tool {
    Tool {
        slug: "evil".into(),
        name: "<script>&\"".into(),
        product: None,
        tagline: "</svg><img src=x onerror=alert(1)> & 'quotes'".into(),
        category: "<b>Cat</b>".into(),
        best_for: "x".into(),
        description: "x".into(),
        license: None,
        pricing: Pricing {
            entry: "Free".into(),
            details: None,
        },
        community: Community::default(),
        reviews: Vec::new(),
        panel: Panel {
            verdict: Verdict::Skip,
            ship_percent: 25,
            split: Some(Split { ships: 1, skips: 3 }),
            basis: PanelBasis::StatedSplit,
        },
    }
}

fn parse(svg: &str) -> roxmltree::Document<'_> {
    match roxmltree::Document::parse(svg) {
        Ok(d) => d,
        Err(e) => panic!("not well-formed XML: {e}\n{svg}"),
    }
}

/// Checks the accessibility attributes and returns (width, height).
fn check_accessible(svg: &str, label: &str) -> (f32, f32) {
    let doc = parse(svg);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("role"), Some("img"));
    assert_eq!(root.attribute("aria-label"), Some(label));
    let title = root
        .children()
        .find(|n| n.has_tag_name("title"))
        .expect("a <title>");
    assert_eq!(title.text(), Some(label));
    let dim = |a: &str| -> f32 {
        root.attribute(a)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no numeric {a}"))
    };
    (dim("width"), dim("height"))
}

fn ids(svg: &str) -> Vec<String> {
    parse(svg)
        .descendants()
        .filter_map(|n| n.attribute("id").map(str::to_string))
        .collect()
}

fn tree(svg: &str) -> usvg::Tree {
    let mut opt = usvg::Options::default();
    opt.fontdb_mut()
        .load_font_data(font_data(FontWeight::Regular).to_vec());
    opt.fontdb_mut()
        .load_font_data(font_data(FontWeight::Bold).to_vec());
    match usvg::Tree::from_str(svg, &opt) {
        Ok(t) => t,
        Err(e) => panic!("resvg cannot read it: {e}"),
    }
}

/// Rasterizes with resvg and returns the RGBA pixels.
fn render(svg: &str) -> (u32, u32, Vec<[u8; 4]>) {
    let t = tree(svg);
    let size = t.size().to_int_size();
    let mut pix = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("pixmap");
    resvg::render(
        &t,
        resvg::tiny_skia::Transform::default(),
        &mut pix.as_mut(),
    );
    let px = pix
        .data()
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect();
    (size.width(), size.height(), px)
}

fn hex(c: &str) -> [u8; 4] {
    let v = u32::from_str_radix(c.trim_start_matches('#'), 16).expect("hex colour");
    [(v >> 16) as u8, (v >> 8) as u8, v as u8, 255]
}

fn count(px: &[[u8; 4]], c: [u8; 4]) -> usize {
    px.iter().filter(|p| **p == c).count()
}

/// Pixels within `tol` of `c` in every channel (the flat badge's 10% shine gradient
/// shifts its fills by up to ~26 levels).
fn count_near(px: &[[u8; 4]], c: [u8; 4], tol: u8) -> usize {
    px.iter()
        .filter(|p| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= tol))
        .count()
}

/// The union of the ink bounds of every path, including text converted to paths (a text
/// node's own bounding box is its layout box, not its ink).
fn ink(group: &usvg::Group) -> Option<usvg::Rect> {
    let mut acc: Option<usvg::Rect> = None;
    let mut add = |r: usvg::Rect| {
        acc = Some(match acc {
            None => r,
            Some(a) => usvg::Rect::from_ltrb(
                a.left().min(r.left()),
                a.top().min(r.top()),
                a.right().max(r.right()),
                a.bottom().max(r.bottom()),
            )
            .unwrap_or(a),
        })
    };
    for node in group.children() {
        match node {
            usvg::Node::Group(g) => ink(g).into_iter().for_each(&mut add),
            usvg::Node::Path(p) => add(p.abs_bounding_box()),
            usvg::Node::Text(t) => ink(t.flattened()).into_iter().for_each(&mut add),
            usvg::Node::Image(i) => add(i.abs_bounding_box()),
        }
    }
    acc
}

/// The ink bounds of every path drawn, which must lie inside the canvas.
fn assert_ink_inside(svg: &str, w: f32, h: f32) {
    let t = tree(svg);
    let b = ink(t.root()).expect("ink");
    assert!(
        b.left() >= 0.0 && b.top() >= 0.0 && b.right() <= w && b.bottom() <= h,
        "ink {b:?} outside {w}x{h}"
    );
}

#[test]
fn every_badge_is_well_formed_accessible_and_rendered() {
    let cat = catalog();
    for tool in &cat.tools {
        for v in BadgeVariant::ALL {
            let svg = badge_svg(tool, v);
            let (w, h) = check_accessible(&svg, &badge_alt(tool));
            match v.style {
                BadgeStyle::Verdict => assert_eq!((w, h), (360.0, 90.0)),
                BadgeStyle::Flat => assert_eq!(h, 20.0),
            }
            assert_ink_inside(&svg, w, h);
            let (rw, rh, px) = render(&svg);
            assert_eq!((rw as f32, rh as f32), (w, h));
            // The verdict colour is there (the pill or the message half).
            let fill = match tool.panel.verdict {
                Verdict::Ship => "#15803d",
                Verdict::Skip => "#b91c1c",
                Verdict::Split => "#b45309",
            };
            assert!(
                count_near(&px, hex(fill), 28) > 200,
                "{} {:?}: no verdict colour",
                tool.slug,
                v
            );
            // And white text drawn on it.
            assert!(
                count_near(&px, hex("#ffffff"), 28) > 20,
                "{} {:?}: no white text",
                tool.slug,
                v
            );
        }
    }
}

#[test]
fn badge_alt_says_name_verdict_percent_and_split() {
    let cat = catalog();
    let t = cat.tool("smolvlm2-2b").expect("tool");
    assert_eq!(
        badge_alt(t),
        "SmolVLM2-2B: Ship, 75% panel ship (3 ship / 1 skip) on Ship or Skip"
    );
    let t = cat.tool("karpathy-coding-skills").expect("tool");
    assert_eq!(
        badge_alt(t),
        "Karpathy Coding Skills: Ship, 75% panel ship on Ship or Skip"
    );
}

#[test]
fn badges_with_community_votes_say_the_split() {
    let cat = catalog();
    let mut t = cat.tool("smolvlm2-2b").expect("tool").clone();
    let before: Vec<String> = BadgeVariant::ALL
        .iter()
        .map(|v| badge_svg(&t, *v))
        .collect();
    t.community = Community { ships: 2, skips: 1 };
    assert_eq!(
        badge_alt(&t),
        "SmolVLM2-2B: Ship, 75% panel ship (3 ship / 1 skip), community 67% ship (2 ship / 1 skip) on Ship or Skip"
    );
    for (v, old) in BadgeVariant::ALL.into_iter().zip(before) {
        let svg = badge_svg(&t, v);
        assert_ne!(svg, old, "{v:?}: the community votes change the drawing");
        let (w, h) = check_accessible(&svg, &badge_alt(&t));
        let (pw, ph, _) = render(&svg);
        assert_eq!((pw as f32, ph as f32), (w, h));
    }
}

#[test]
fn hostile_text_is_escaped_in_badges() {
    let t = hostile();
    for v in BadgeVariant::ALL {
        let svg = badge_svg(&t, v);
        // Parses, and the label round-trips exactly: escaped, not dropped.
        check_accessible(&svg, &badge_alt(&t));
        assert!(badge_alt(&t).contains("<script>&\""));
        assert!(!svg.contains("<script"), "{svg}");
        let doc = parse(&svg);
        assert!(doc.descendants().all(|n| !n.has_tag_name("script")));
        render(&svg);
    }
}

#[test]
fn hostile_text_is_escaped_in_og_images() {
    let t = hostile();
    let cat = catalog();
    let other = cat.tool("smolvlm2-2b").expect("tool");
    for svg in [og_tool_svg(&t), og_compare_svg(&t, other)] {
        let doc = parse(&svg);
        let label = doc.root_element().attribute("aria-label").expect("label");
        assert!(label.contains("<script>&\""), "{label}");
        assert!(!svg.contains("<script") && !svg.contains("<img"), "{svg}");
        render(&svg);
    }
}

#[test]
fn hostile_text_is_escaped_in_snippets_and_oembed() {
    let t = hostile();
    let site = "https://example.org/sub/";
    for html in [badge_html(&t, site), embed_iframe_html(&t, site)] {
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;&amp;&quot;"), "{html}");
    }
    let json: serde_json::Value = serde_json::from_str(&oembed_json(&t, site)).expect("json");
    assert_eq!(json["title"], "<script>&\": Skip verdict");
    let html = json["html"].as_str().expect("html");
    assert!(!html.contains("<script"), "{html}");
    let md = badge_markdown(&t, site);
    assert!(
        md.starts_with("[![<script>&\": Skip, 25% panel ship (1 ship / 3 skip) on Ship or Skip](")
    );
    let bracketed = Tool {
        name: "a] (x) [b".into(),
        ..hostile()
    };
    assert!(badge_markdown(&bracketed, site).starts_with("[![a\\] (x) \\[b: Skip"));
}

#[test]
fn ids_are_unique_across_variants_and_tools() {
    let cat = catalog();
    let mut seen = BTreeSet::new();
    for tool in cat.tools.iter().chain([&hostile()]) {
        for v in BadgeVariant::ALL {
            let svg = badge_svg(tool, v);
            let ids = ids(&svg);
            assert!(!ids.is_empty(), "{} {:?} has no ids to check", tool.slug, v);
            for id in ids {
                assert!(seen.insert(id.clone()), "id {id} used twice");
                assert!(
                    id.starts_with(&format!("badge-{}", tool.slug)),
                    "{id} lacks the slug prefix"
                );
            }
            // Every url(#…) reference points inside the same SVG.
            let own: BTreeSet<String> = self::ids(&svg).into_iter().collect();
            for part in svg.split("url(#").skip(1) {
                let r = part.split(')').next().unwrap_or("");
                assert!(own.contains(r), "dangling reference #{r}");
            }
        }
    }
}

/// Our text layout (advances + `kern` pairs, drawn as paths) against resvg's own text
/// engine (rustybuzz shaping) with the same font: the ink must match to within the
/// 0.1 px our coordinates are rounded to (plus float noise).
#[test]
fn text_widths_match_resvgs_text_layout_with_the_same_font() {
    let cases = [
        ("SmolVLM2-2B", 18.0, FontWeight::Bold),
        ("SkyPilot Research Agents", 18.0, FontWeight::Bold),
        ("ship or skip", 11.0, FontWeight::Regular),
        ("Ship 75%", 11.0, FontWeight::Regular),
        (
            "75% panel ship · 3 ship / 1 skip",
            13.0,
            FontWeight::Regular,
        ),
        ("AVATAR Wave Type LTA", 40.0, FontWeight::Regular), // kerning-heavy pairs
        ("AVATAR Wave Type LTA", 40.0, FontWeight::Bold),
    ];
    for (s, size, weight) in cases {
        let ours = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1200\" height=\"100\"><path d=\"{}\"/></svg>",
            text_path(s, 10.0, 60.0, size, weight)
        );
        let fw = match weight {
            FontWeight::Regular => "normal",
            FontWeight::Bold => "bold",
        };
        let reference = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1200\" height=\"100\">\
             <text x=\"10\" y=\"60\" font-family=\"DejaVu Sans\" font-size=\"{size}\" font-weight=\"{fw}\">{s}</text></svg>"
        );
        let a = ink(tree(&ours).root()).expect("ink");
        let b = ink(tree(&reference).root()).expect("ink");
        let tol = 0.15;
        assert!(
            (a.left() - b.left()).abs() < tol && (a.right() - b.right()).abs() < tol,
            "{s:?} at {size}: ours {a:?}, resvg {b:?}"
        );
        assert!((a.top() - b.top()).abs() < tol && (a.bottom() - b.bottom()).abs() < tol);
    }
}

#[test]
fn kerning_is_applied() {
    // DejaVu Sans kerns "AV": the pair is narrower than its letters apart.
    let pair = text_width("AV", 100.0, FontWeight::Regular);
    let apart =
        text_width("A", 100.0, FontWeight::Regular) + text_width("V", 100.0, FontWeight::Regular);
    assert!(pair < apart - 1.0, "AV {pair} vs A+V {apart}");
}

#[test]
fn long_names_are_shortened_to_fit_the_badge() {
    let t = Tool {
        name: "An Extremely Long Tool Name That Cannot Possibly Fit In One Badge".into(),
        ..hostile()
    };
    for v in BadgeVariant::ALL {
        let svg = badge_svg(&t, v);
        let (w, h) = check_accessible(&svg, &badge_alt(&t));
        assert_ink_inside(&svg, w, h);
    }
    for svg in [og_tool_svg(&t), og_compare_svg(&t, &t)] {
        assert_ink_inside(&svg, 1200.0, 630.0);
    }
}

#[test]
fn og_images_are_1200_by_630_and_render() {
    let cat = catalog();
    for t in &cat.tools {
        let svg = og_tool_svg(t);
        let doc = parse(&svg);
        assert_eq!(doc.root_element().attribute("role"), Some("img"));
        assert_ink_inside(&svg, 1200.0, 630.0);
        let (w, h, px) = render(&svg);
        assert_eq!((w, h), (1200, 630));
        assert!(
            count(&px, hex("#111827")) > 1000,
            "{}: no dark text",
            t.slug
        );
    }
    for c in &cat.comparisons {
        let (a, b) = (
            cat.tool(&c.tools[0]).expect("a"),
            cat.tool(&c.tools[1]).expect("b"),
        );
        let svg = og_compare_svg(a, b);
        let label = format!("{} vs {}", a.name, b.name);
        let doc = parse(&svg);
        let aria = doc.root_element().attribute("aria-label").expect("label");
        assert!(aria.starts_with(&label), "{aria}");
        assert_ink_inside(&svg, 1200.0, 630.0);
        let (w, h, _) = render(&svg);
        assert_eq!((w, h), (1200, 630));
    }
}

#[test]
fn oembed_is_rich_1_0_with_the_embed_iframe() {
    let cat = catalog();
    let t = cat.tool("smolvlm2-2b").expect("tool");
    for site in ["https://example.org/sub", "https://example.org/sub/"] {
        let v: serde_json::Value = serde_json::from_str(&oembed_json(t, site)).expect("json");
        assert_eq!(v["type"], "rich");
        assert_eq!(v["version"], "1.0");
        assert_eq!(v["width"], 360);
        assert_eq!(v["height"], 260);
        assert_eq!(v["provider_name"], "Ship or Skip");
        assert_eq!(v["provider_url"], "https://example.org/sub/");
        assert_eq!(v["title"], "SmolVLM2-2B: Ship verdict");
        let html = v["html"].as_str().expect("html");
        let frag = format!("<div>{html}</div>");
        let doc = parse(&frag);
        let iframe = doc
            .descendants()
            .find(|n| n.has_tag_name("iframe"))
            .expect("an iframe");
        assert_eq!(
            iframe.attribute("src"),
            Some("https://example.org/sub/embed/smolvlm2-2b/")
        );
        assert_eq!(iframe.attribute("width"), Some("360"));
        assert_eq!(iframe.attribute("height"), Some("260"));
        // Sandboxed: scripts, its own origin and new tabs only (embeds.spec.ts pastes the
        // card with the same tokens and checks it still works).
        let mut sandbox: Vec<&str> = iframe
            .attribute("sandbox")
            .expect("a sandbox attribute")
            .split_whitespace()
            .collect();
        sandbox.sort();
        assert_eq!(
            sandbox,
            [
                "allow-popups",
                "allow-popups-to-escape-sandbox",
                "allow-same-origin",
                "allow-scripts"
            ]
        );
    }
}

#[test]
fn snippets_link_the_badge_files_and_tool_page() {
    let cat = catalog();
    let t = cat.tool("smolvlm2-2b").expect("tool");
    let site = "http://localhost:8080/";
    let frag = badge_html(t, site);
    let doc = parse(&frag);
    let a = doc.root_element();
    assert_eq!(
        a.attribute("href"),
        Some("http://localhost:8080/tool/smolvlm2-2b/")
    );
    assert_eq!(a.attribute("target"), Some("_blank"));
    assert_eq!(a.attribute("rel"), Some("noopener"));
    let img = a.first_element_child().expect("img");
    assert_eq!(
        img.attribute("src"),
        Some("http://localhost:8080/badge/smolvlm2-2b.svg")
    );
    assert_eq!(
        (img.attribute("width"), img.attribute("height")),
        (Some("360"), Some("90"))
    );
    assert_eq!(
        badge_markdown(t, site),
        "[![SmolVLM2-2B: Ship, 75% panel ship (3 ship / 1 skip) on Ship or Skip](http://localhost:8080/badge/smolvlm2-2b-flat.svg)](http://localhost:8080/tool/smolvlm2-2b/)"
    );
    let names: Vec<String> = BadgeVariant::ALL.iter().map(|v| v.file_name("x")).collect();
    assert_eq!(
        names,
        ["x.svg", "x-dark.svg", "x-flat.svg", "x-flat-dark.svg"]
    );
}
