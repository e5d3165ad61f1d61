//! `/embed/<slug>/`: the verdict card for a 360×260 iframe on other sites.
//!
//! Delivered as static HTML (no wasm: see `routes::PageKind::Static`); it makes no
//! third-party request, sets no cookie, opens links in a new tab, and tells its parent its
//! height with `postMessage({type: "embed-height", height})` whenever it changes.
//! Where the site names a votes service (`<meta name="votes-api">`), a second inline script
//! replaces the pre-rendered community line with the live split.

use catalog::{Tool, SITE_NAME};
use leptos::prelude::*;

use super::param;
use crate::{
    components::{Avatar, VerdictPill},
    use_site,
};

/// Posts the card's height to the parent page on load and whenever it changes. Inline so
/// the card needs nothing but its own HTML and stylesheet.
pub const EMBED_HEIGHT_SCRIPT: &str = r#"(function(){var last=-1;var el=document.querySelector(".embed-card");function post(){var h=Math.ceil(el.getBoundingClientRect().height);if(h!==last){last=h;if(window.parent!==window){window.parent.postMessage({type:"embed-height",height:h},"*");}}}if(window.ResizeObserver){new ResizeObserver(post).observe(el);}window.addEventListener("load",post);post();})();"#;

/// Fills `[data-testid=embed-community]` with the live split from the votes service, in the
/// catalog's wording ("67% ship · 2 ship / 1 skip"; the service computes the percentage
/// with the catalog's rounding). Without a service, or if it does not answer, the
/// pre-rendered text stays.
pub const EMBED_COMMUNITY_SCRIPT: &str = r#"(function(){var m=document.querySelector('meta[name="votes-api"]');var el=document.querySelector('[data-testid="embed-community"]');if(!m||!el||!window.fetch)return;var out=el.querySelector('.embed-community-split');fetch(m.getAttribute("content")+"api/votes/"+encodeURIComponent(el.getAttribute("data-item")),{credentials:"omit"}).then(function(r){return r.ok?r.json():null}).then(function(t){if(!t)return;out.textContent=t.total>0?t.ship_percent+"% ship \u00b7 "+t.ship+" ship / "+t.skip+" skip":"No community votes yet";}).catch(function(){});})();"#;

#[component]
pub fn Embed() -> impl IntoView {
    let site = use_site();
    let slug = param("slug");
    move || match site.catalog.tool(&slug()) {
        Some(t) => view! { <EmbedCard tool=t.clone() /> }.into_any(),
        None => view! {
            <div class="embed-card">
                <p>"No such tool."</p>
            </div>
        }
        .into_any(),
    }
}

#[component]
fn EmbedCard(tool: Tool) -> impl IntoView {
    let site = use_site();
    let url = format!("{}tool/{}/", site.url, tool.slug);
    let split = tool.panel.split.map(|s| s.to_string());
    view! {
        <article class="embed-card">
            <div class="embed-top">
                <Avatar tool=tool.clone() />
                <div class="embed-title">
                    <h1 class="embed-name">
                        <a href=url.clone() target="_blank" rel="noopener">{tool.name.clone()}</a>
                    </h1>
                    <p class="category">{tool.category.clone()}</p>
                </div>
            </div>
            <p class="embed-tagline">{tool.tagline.clone()}</p>
            <div class="embed-verdict">
                <VerdictPill verdict=tool.panel.verdict />
                <span class="embed-percent">{format!("{}%", tool.panel.ship_percent)}</span>
                <span class="muted">"panel ship"</span>
            </div>
            <p class="muted embed-split">{split}</p>
            <p class="embed-community" data-testid="embed-community" data-item=tool.slug.clone()>
                <span class="muted">"Community: "</span>
                <span class="embed-community-split">{tool.community.summary()}</span>
            </p>
            <p class="embed-foot">
                <a href=url target="_blank" rel="noopener">{format!("Read the panel’s reviews on {SITE_NAME} →")}</a>
            </p>
        </article>
        <script inner_html=EMBED_HEIGHT_SCRIPT></script>
        <script inner_html=EMBED_COMMUNITY_SCRIPT></script>
    }
}
