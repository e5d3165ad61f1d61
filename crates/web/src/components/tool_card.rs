//! A tool's column of the compare page: avatar, category, name, tagline, verdict, % panel
//! ship, community, entry price, description.

use catalog::Tool;
use leptos::prelude::*;

use super::VerdictPill;
use crate::use_site;

/// The letter circle standing in for a logo; its colour comes from the name so that each
/// tool keeps its own.
#[component]
pub fn Avatar(tool: Tool) -> impl IntoView {
    let hue = tool
        .name
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
        % 6;
    view! { <span class=format!("avatar avatar-{hue}") aria-hidden="true">{tool.initial().to_string()}</span> }
}

#[component]
pub fn ToolCard(tool: Tool) -> impl IntoView {
    let site = use_site();
    let community = if tool.community.total() == 0 {
        "—".to_string()
    } else {
        format!("{}%", tool.community.ship_percent().unwrap_or(0))
    };
    let split = tool
        .panel
        .split
        .map(|s| view! { <span class="split">{s.to_string()}</span> });
    view! {
        <article class="card tool-card" aria-labelledby=format!("card-{}", tool.slug)>
            <div class="card-top">
                <Avatar tool=tool.clone() />
                <p class="category">{tool.category.clone()}</p>
            </div>
            <h2 class="tool-name" id=format!("card-{}", tool.slug)>
                <a href=site.href(&format!("tool/{}/", tool.slug))>{tool.name.clone()}</a>
            </h2>
            <p class="tagline">{tool.tagline.clone()}</p>
            <div class="verdict-line">
                <VerdictPill verdict=tool.panel.verdict />
                {split}
            </div>
            <dl class="stats">
                <div>
                    <dt>"Panel ship"</dt>
                    <dd class="big">{format!("{}%", tool.panel.ship_percent)}</dd>
                </div>
                <div>
                    <dt>"Community"</dt>
                    <dd class="big" title=tool.community.summary()>{community}</dd>
                </div>
                <div>
                    <dt>"Entry"</dt>
                    <dd class="big">{tool.pricing.entry.clone()}</dd>
                </div>
            </dl>
            <div class="description">
                {tool.paragraphs().map(|p| view! { <p>{p.to_string()}</p> }).collect_view()}
            </div>
        </article>
    }
}
