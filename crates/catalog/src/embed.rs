//! Embeds: badge variants and their file names, oEmbed JSON, and the copy-paste snippets
//! of a tool page (iframe, badge as HTML and as Markdown). No font needed: always built.

use crate::model::Tool;
use crate::SITE_NAME;
use serde::Serialize;

/// Size of the verdict badge (`/badge/<slug>.svg`).
pub const BADGE_WIDTH: u32 = 360;
pub const BADGE_HEIGHT: u32 = 90;
/// Size of the embed card iframe (`/embed/<slug>/`).
pub const EMBED_WIDTH: u32 = 360;
pub const EMBED_HEIGHT: u32 = 260;
/// What the embed card may do inside the page that pastes it, and nothing more: run its
/// script (hydration, the height it posts, the community votes), keep its own origin (the
/// votes service allows only the site's origin; being cross-origin to the host page, it
/// gains nothing over the host by it), and open links in a new, unsandboxed tab. No forms,
/// no top navigation, no downloads, no modals.
pub const EMBED_SANDBOX: &str =
    "allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox";

/// Light or dark colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Theme {
    Light,
    Dark,
}

/// The 360×90 verdict card or the compact shields-style one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum BadgeStyle {
    Verdict,
    Flat,
}

/// One of the four badge files of a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct BadgeVariant {
    pub style: BadgeStyle,
    pub theme: Theme,
}

impl BadgeVariant {
    /// The four variants, in the order of DESIGN.md: `<slug>.svg`, `<slug>-dark.svg`,
    /// `<slug>-flat.svg`, `<slug>-flat-dark.svg`.
    pub const ALL: [BadgeVariant; 4] = [
        BadgeVariant {
            style: BadgeStyle::Verdict,
            theme: Theme::Light,
        },
        BadgeVariant {
            style: BadgeStyle::Verdict,
            theme: Theme::Dark,
        },
        BadgeVariant {
            style: BadgeStyle::Flat,
            theme: Theme::Light,
        },
        BadgeVariant {
            style: BadgeStyle::Flat,
            theme: Theme::Dark,
        },
    ];

    /// "", "-dark", "-flat" or "-flat-dark".
    pub fn suffix(self) -> &'static str {
        match (self.style, self.theme) {
            (BadgeStyle::Verdict, Theme::Light) => "",
            (BadgeStyle::Verdict, Theme::Dark) => "-dark",
            (BadgeStyle::Flat, Theme::Light) => "-flat",
            (BadgeStyle::Flat, Theme::Dark) => "-flat-dark",
        }
    }

    /// The file name under `/badge/`: `<slug><suffix>.svg`.
    pub fn file_name(self, slug: &str) -> String {
        format!("{slug}{}.svg", self.suffix())
    }
}

/// `site_url` with exactly one trailing slash, so that paths join under a sub-path
/// (`https://example.org/sub` → `https://example.org/sub/`).
pub fn site_root(site_url: &str) -> String {
    format!("{}/", site_url.trim_end_matches('/'))
}

/// `<site>/tool/<slug>/`.
pub fn tool_url(site_url: &str, slug: &str) -> String {
    format!("{}tool/{slug}/", site_root(site_url))
}

/// `<site>/embed/<slug>/`.
pub fn embed_url(site_url: &str, slug: &str) -> String {
    format!("{}embed/{slug}/", site_root(site_url))
}

/// `<site>/badge/<file>`.
pub fn badge_url(site_url: &str, slug: &str, variant: BadgeVariant) -> String {
    format!("{}badge/{}", site_root(site_url), variant.file_name(slug))
}

/// `<site>/oembed/<slug>.json`.
pub fn oembed_url(site_url: &str, slug: &str) -> String {
    format!("{}oembed/{slug}.json", site_root(site_url))
}

/// Escapes text for XML/HTML text and attribute values (`&`, `<`, `>`, `"`, `'`).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The badge's alternative text: "SmolVLM2-2B: Ship, 75% panel ship (3 ship / 1 skip) on
/// Ship or Skip". Also the SVG's `aria-label` and `<title>` (escaped there). With community
/// votes (the live badges of the votes service) it adds them before " on": ", community 67%
/// ship (2 ship / 1 skip)".
pub fn badge_alt(tool: &Tool) -> String {
    let p = &tool.panel;
    let panel = match p.split {
        Some(s) => format!("{}% panel ship ({s})", p.ship_percent),
        None => format!("{}% panel ship", p.ship_percent),
    };
    let community = match community_line(tool) {
        Some(c) => format!(", {c}"),
        None => String::new(),
    };
    format!(
        "{}: {}, {panel}{community} on {SITE_NAME}",
        tool.name, p.verdict
    )
}

/// "community 67% ship (2 ship / 1 skip)", or `None` without community votes.
pub fn community_line(tool: &Tool) -> Option<String> {
    let c = &tool.community;
    c.ship_percent().map(|pct| {
        format!(
            "community {pct}% ship ({})",
            crate::model::Split {
                ships: c.ships,
                skips: c.skips
            }
        )
    })
}

/// The iframe snippet of the embed card.
pub fn embed_iframe_html(tool: &Tool, site_url: &str) -> String {
    format!(
        "<iframe src=\"{}\" title=\"{}\" width=\"{EMBED_WIDTH}\" height=\"{EMBED_HEIGHT}\" \
         sandbox=\"{EMBED_SANDBOX}\" \
         style=\"border:0;border-radius:16px;max-width:100%;\" loading=\"lazy\"></iframe>",
        xml_escape(&embed_url(site_url, &tool.slug)),
        xml_escape(&format!("{} verdict on {SITE_NAME}", tool.name)),
    )
}

/// The badge as HTML: the verdict badge linking to the tool page.
pub fn badge_html(tool: &Tool, site_url: &str) -> String {
    let variant = BadgeVariant::ALL[0];
    format!(
        "<a href=\"{}\" target=\"_blank\" rel=\"noopener\"><img src=\"{}\" alt=\"{}\" \
         width=\"{BADGE_WIDTH}\" height=\"{BADGE_HEIGHT}\" /></a>",
        xml_escape(&tool_url(site_url, &tool.slug)),
        xml_escape(&badge_url(site_url, &tool.slug, variant)),
        xml_escape(&badge_alt(tool)),
    )
}

/// The badge as Markdown: the compact badge linking to the tool page.
pub fn badge_markdown(tool: &Tool, site_url: &str) -> String {
    let variant = BadgeVariant {
        style: BadgeStyle::Flat,
        theme: Theme::Light,
    };
    // Brackets and backslashes would end or escape the alt text early.
    let alt: String = badge_alt(tool)
        .chars()
        .flat_map(|c| match c {
            '[' | ']' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!(
        "[![{alt}]({})]({})",
        badge_url(site_url, &tool.slug, variant),
        tool_url(site_url, &tool.slug)
    )
}

/// The oEmbed response (<https://oembed.com/>, type `rich`) for a tool's embed card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OEmbed {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub version: &'static str,
    pub title: String,
    pub provider_name: &'static str,
    pub provider_url: String,
    pub html: String,
    pub width: u32,
    pub height: u32,
}

impl OEmbed {
    pub fn new(tool: &Tool, site_url: &str) -> OEmbed {
        OEmbed {
            kind: "rich",
            version: "1.0",
            title: format!("{}: {} verdict", tool.name, tool.panel.verdict),
            provider_name: SITE_NAME,
            provider_url: site_root(site_url),
            html: embed_iframe_html(tool, site_url),
            width: EMBED_WIDTH,
            height: EMBED_HEIGHT,
        }
    }
}

/// The oEmbed JSON of `/oembed/<slug>.json`.
pub fn oembed_json(tool: &Tool, site_url: &str) -> String {
    // Serializing plain strings and numbers cannot fail.
    serde_json::to_string_pretty(&OEmbed::new(tool, site_url)).unwrap_or_default()
}
