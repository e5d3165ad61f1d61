//! `/`: every comparison, tool and reviewer, with a category filter.

use catalog::{Comparison, Tool};
use leptos::prelude::*;

use crate::{
    components::{Avatar, VerdictPill},
    use_site,
};

#[component]
pub fn Home() -> impl IntoView {
    let site = use_site();
    let c = site.catalog;
    let groups = c.categories();
    // None = all categories. Starts as in the pre-rendered page (everything shown).
    let filter = RwSignal::new(None::<String>);
    let shown = move |cats: &[String]| filter.with(|f| f.as_ref().is_none_or(|f| cats.contains(f)));

    let chip = move |label: String, value: Option<String>| {
        let v = value.clone();
        view! {
            <li>
                <button
                    type="button"
                    class="chip"
                    aria-pressed=move || filter.with(|f| if *f == v { "true" } else { "false" })
                    on:click=move |_| filter.set(value.clone())
                >
                    {label}
                </button>
            </li>
        }
    };
    let chips = std::iter::once(chip("All".into(), None))
        .chain(
            groups
                .iter()
                .map(|g| chip(g.name.clone(), Some(g.slug.clone()))),
        )
        .collect_view();

    let comparisons = c
        .comparisons
        .iter()
        .map(|cmp| {
            let cats: Vec<String> = cmp
                .tools
                .iter()
                .filter_map(|s| c.tool(s))
                .map(Tool::category_slug)
                .collect();
            view! {
                <li hidden=move || !shown(&cats)>
                    <CompareCard cmp=cmp.clone() />
                </li>
            }
        })
        .collect_view();
    let tools = c
        .tools
        .iter()
        .map(|t| {
            let cats = vec![t.category_slug()];
            view! {
                <li hidden=move || !shown(&cats)>
                    <ToolLink tool=t.clone() />
                </li>
            }
        })
        .collect_view();
    let reviewers = c
        .personas
        .iter()
        .map(|p| {
            view! {
                <li class="card reviewer-card">
                    <h3><a href=site.href(&format!("reviewer/{}/", p.slug))>{p.name.clone()}</a></h3>
                    <p class="muted">{p.focus.clone()}</p>
                </li>
            }
        })
        .collect_view();

    view! {
        <crate::components::Shell>
            <header class="page-head">
                <p class="eyebrow">"AI tool comparisons"</p>
                <h1>"Ship it or skip it?"</h1>
                <p class="lede">
                    "An expert panel — Builder, Skeptic, Futurist, Founder, Creator — reviews new AI tools. Compare their verdicts side by side, then ship with confidence."
                </p>
            </header>
            <nav class="filters" aria-label="Filter by category">
                <ul>{chips}</ul>
            </nav>
            <section class="section" id="comparisons" aria-labelledby="comparisons-h">
                <h2 id="comparisons-h">"Comparisons"</h2>
                <ul class="grid">{comparisons}</ul>
            </section>
            <section class="section" id="tools" aria-labelledby="tools-h">
                <h2 id="tools-h">"Tools"</h2>
                <ul class="grid">{tools}</ul>
            </section>
            <section class="section" id="reviewers" aria-labelledby="reviewers-h">
                <h2 id="reviewers-h">"Reviewers"</h2>
                <ul class="grid">{reviewers}</ul>
            </section>
        </crate::components::Shell>
    }
}

#[component]
fn CompareCard(cmp: Comparison) -> impl IntoView {
    let site = use_site();
    let tools: Vec<Tool> = cmp
        .tools
        .iter()
        .filter_map(|s| site.catalog.tool(s))
        .cloned()
        .collect();
    let title = tools
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(" vs ");
    let sides = tools
        .into_iter()
        .map(|t| {
            view! {
                <li>
                    <Avatar tool=t.clone() />
                    <span class="side-name">{t.name.clone()}</span>
                    <VerdictPill verdict=t.panel.verdict />
                    <span class="muted">{format!("{}%", t.panel.ship_percent)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <article class="card compare-card">
            <h3><a class="stretched" href=site.href(&format!("compare/{}/", cmp.slug))>{title}</a></h3>
            <ul class="sides">{sides}</ul>
        </article>
    }
}

#[component]
fn ToolLink(tool: Tool) -> impl IntoView {
    let site = use_site();
    view! {
        <article class="card tool-link">
            <div class="card-top">
                <Avatar tool=tool.clone() />
                <p class="category">{tool.category.clone()}</p>
            </div>
            <h3><a class="stretched" href=site.href(&format!("tool/{}/", tool.slug))>{tool.name.clone()}</a></h3>
            <p class="tagline">{tool.tagline.clone()}</p>
            <div class="verdict-line">
                <VerdictPill verdict=tool.panel.verdict />
                <span class="muted">{format!("{}% panel ship", tool.panel.ship_percent)}</span>
            </div>
        </article>
    }
}
