//! `/tool/<slug>/`: one listing's verdict, reviews, and the snippets to embed it.

use catalog::Tool;
use leptos::prelude::*;

use super::{param, NotFound};
use crate::{
    components::{
        runs_here, Avatar, CommunityVote, CopySnippet, ScoreBar, Shell, TryIt, VerdictPill,
    },
    use_site,
};

#[component]
pub fn ToolPage() -> impl IntoView {
    let site = use_site();
    let slug = param("slug");
    move || match site.catalog.tool(&slug()) {
        Some(t) => view! { <ToolView tool=t.clone() /> }.into_any(),
        None => view! { <NotFound /> }.into_any(),
    }
}

#[component]
fn ToolView(tool: Tool) -> impl IntoView {
    let site = use_site();
    let c = site.catalog;
    let split = tool
        .panel
        .split
        .map(|s| view! { <span class="split-big">{s.short()}</span> });
    let license = tool.license.clone().map(|l| {
        view! {
            <div>
                <dt>"License"</dt>
                <dd>{l}</dd>
            </div>
        }
    });
    let page_url = format!("{}tool/{}/", site.url, tool.slug);
    let compares = c
        .comparisons_with(&tool.slug)
        .into_iter()
        .filter_map(|cmp| {
            let other = cmp.tools.iter().find(|s| **s != tool.slug)?;
            let other = c.tool(other)?;
            Some(view! {
                <li>
                    <a href=site.href(&format!("compare/{}/", cmp.slug))>
                        {format!("{} vs {}", tool.name, other.name)}
                    </a>
                </li>
            })
        })
        .collect_view();
    let rounds = c
        .other_rounds(&tool)
        .into_iter()
        .map(|t| {
            view! {
                <li>
                    <a href=site.href(&format!("tool/{}/", t.slug))>{format!("{} — “{}”", t.name, t.tagline)}</a>
                    " "
                    <VerdictPill verdict=t.panel.verdict />
                    {t.panel.split.map(|s| format!(" {}", s.short()))}
                </li>
            }
        })
        .collect_view();
    let has_rounds = !c.other_rounds(&tool).is_empty();
    let reviews = tool
        .reviews
        .iter()
        .map(|r| {
            let who = r
                .persona
                .as_deref()
                .and_then(|p| c.persona(p))
                .map(|p| view! { <a href=site.href(&format!("reviewer/{}/", p.slug))>{p.name.clone()}</a> }.into_any())
                .unwrap_or_else(|| "Panel".into_any());
            let text = r.text.clone();
            view! {
                <li class="card take-card">
                    <h3>{who}</h3>
                    <ScoreBar review=r.clone() />
                    <blockquote><p>{text}</p></blockquote>
                </li>
            }
        })
        .collect_view();

    view! {
        <Shell>
            <header class="page-head tool-head">
                <div class="card-top">
                    <Avatar tool=tool.clone() />
                    <p class="category">{tool.category.clone()}</p>
                </div>
                <h1>{tool.name.clone()}</h1>
                <p class="lede">{tool.tagline.clone()}</p>
                <div class="verdict-line big-verdict">
                    <span class="eyebrow">"Expert verdict"</span>
                    <VerdictPill verdict=tool.panel.verdict />
                    {split}
                    <span class="muted">{format!("{}% panel ship", tool.panel.ship_percent)}</span>
                </div>
                <div class="verdict-line community-line">
                    <span class="eyebrow">"Community"</span>
                    <CommunityVote tool=tool.clone() />
                </div>
            </header>
            <section class="section" aria-labelledby="take-h">
                <h2 id="take-h">"The Panel’s Take"</h2>
                <div class="description">
                    {tool.paragraphs().map(|p| view! { <p>{p.to_string()}</p> }).collect_view()}
                </div>
                <dl class="facts">
                    <div>
                        <dt>"Pricing"</dt>
                        <dd>{tool.pricing.summary().to_string()}</dd>
                    </div>
                    <div>
                        <dt>"Best for"</dt>
                        <dd>{tool.best_for.clone()}</dd>
                    </div>
                    {license}
                </dl>
                <p class="share"><span class="eyebrow">"Share this verdict"</span> {tool.share_text(&page_url)}</p>
            </section>
            <section class="section" aria-labelledby="compare-h">
                <h2 id="compare-h">{format!("Compare {} with others", tool.name)}</h2>
                <ul class="links">{compares}</ul>
                {has_rounds.then(|| view! {
                    <h3>"Other review rounds"</h3>
                    <ul class="links">{rounds}</ul>
                })}
            </section>
            {runs_here(&tool).then(|| view! { <TryIt /> })}
            <Embeds tool=tool.clone() />
            <section class="section" aria-labelledby="reviews-h">
                <h2 id="reviews-h">"The reviews"</h2>
                <ul class="stack">{reviews}</ul>
            </section>
        </Shell>
    }
}

/// "Embed this verdict": the badges as images, the card in an iframe, and their snippets
/// (the snippets' text comes from `catalog`, the same as the oEmbed JSON).
#[component]
fn Embeds(tool: Tool) -> impl IntoView {
    let site = use_site();
    let slug = tool.slug.clone();
    let alt = catalog::badge_alt(&tool);
    let badges = catalog::BadgeVariant::ALL
        .into_iter()
        .map(|v| {
            let (w, h) = match v.style {
                catalog::BadgeStyle::Verdict => {
                    (Some(catalog::BADGE_WIDTH), Some(catalog::BADGE_HEIGHT))
                }
                // The compact badge's width follows its text: let the SVG say it.
                catalog::BadgeStyle::Flat => (None, None),
            };
            view! {
                <img
                    src=site.href(&format!("badge/{}", v.file_name(&slug)))
                    alt=alt.clone()
                    width=w
                    height=h
                    class=format!("badge badge{}", v.suffix())
                />
            }
        })
        .collect_view();
    view! {
        <section class="section" aria-labelledby="embed-h">
            <h2 id="embed-h">"Embed this verdict"</h2>
            <p class="muted">
                "Static badges and a verdict card for your site or README: no script, no cookie, no tracking."
            </p>
            <div class="badges">{badges}</div>
            <iframe
                class="embed-preview"
                src=site.href(&format!("embed/{slug}/"))
                title=format!("{} verdict card", tool.name)
                width=catalog::EMBED_WIDTH
                height=catalog::EMBED_HEIGHT
            ></iframe>
            <CopySnippet label="Card (iframe)" id="snippet-iframe".into() code=catalog::embed_iframe_html(&tool, site.url) />
            <CopySnippet label="Badge (HTML)" id="snippet-html".into() code=catalog::badge_html(&tool, site.url) />
            <CopySnippet label="Badge (Markdown)" id="snippet-md".into() code=catalog::badge_markdown(&tool, site.url) />
        </section>
    }
}
