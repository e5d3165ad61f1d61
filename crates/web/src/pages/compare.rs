//! `/compare/<a>-vs-<b>/`: the side-by-side panel verdict.

use catalog::{ComparePage, Review, ScorecardRow, Tool};
use leptos::prelude::*;

use super::{param, NotFound};
use crate::{
    components::{runs_here, CommunityVote, ScoreBar, Shell, ToolCard, TryIt, VerdictPill},
    use_site,
};

#[component]
pub fn Compare() -> impl IntoView {
    let site = use_site();
    let pair = param("pair");
    move || {
        // The reverse order has its own redirect page; inside the app it shows the same page.
        let page = site
            .catalog
            .comparison_for_path(&pair())
            .and_then(|(cmp, _)| site.catalog.compare_page(&cmp.slug));
        match page {
            Some(page) => view! { <CompareView page /> }.into_any(),
            None => view! { <NotFound /> }.into_any(),
        }
    }
}

#[component]
fn CompareView(page: ComparePage) -> impl IntoView {
    let site = use_site();
    let [a, b] = page.tools.clone();
    let try_it = (runs_here(&a) || runs_here(&b)).then(|| view! { <TryIt /> });
    view! {
        <Shell>
            <nav class="crumbs" aria-label="Breadcrumb">
                <ol>
                    <li><a href=site.href("#comparisons")>"Compare"</a></li>
                    <li aria-current="page">{page.title.clone()}</li>
                </ol>
            </nav>
            <header class="page-head">
                <p class="eyebrow">"AI tool comparison"</p>
                <h1>{a.name.clone()} <span class="vs">" vs "</span> {b.name.clone()}</h1>
                <p class="lede">
                    "Which one should you ship with? Here is the side-by-side panel verdict, pricing read, reviewer split, and community vote comparison."
                </p>
            </header>
            <div class="versus">
                <ToolCard tool=a.clone() />
                <ToolCard tool=b.clone() />
            </div>
            <DecisionTable a=a.clone() b=b.clone() />
            <Scorecard rows=page.rows.clone() a=a b=b />
            {try_it}
        </Shell>
    }
}

#[component]
fn DecisionTable(a: Tool, b: Tool) -> impl IntoView {
    let row = |label: &'static str, f: fn(&Tool) -> AnyView| {
        view! {
            <tr>
                <th scope="row">{label}</th>
                <td>{f(&a)}</td>
                <td>{f(&b)}</td>
            </tr>
        }
    };
    view! {
        <section class="section" aria-labelledby="decision-h">
            <h2 id="decision-h">"Decision"</h2>
            <div class="table-scroll">
                <table class="decision">
                    <thead>
                        <tr>
                            <th scope="col"><span class="visually-hidden">"Decision"</span></th>
                            <th scope="col">{a.name.clone()}</th>
                            <th scope="col">{b.name.clone()}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {row(
                            "Panel verdict",
                            |t| {
                                let rest = match t.panel.split {
                                    Some(s) => s.to_string(),
                                    None => format!("{}% panel ship", t.panel.ship_percent),
                                };
                                view! { <VerdictPill verdict=t.panel.verdict /> " " {rest} }.into_any()
                            },
                        )}
                        {row("Community", |t| view! { <CommunityVote tool=t.clone() /> }.into_any())}
                        {row("Pricing", |t| t.pricing.summary().to_string().into_any())}
                        {row("Best for", |t| t.best_for.clone().into_any())}
                        {row("Category", |t| t.category.clone().into_any())}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn Scorecard(rows: Vec<ScorecardRow>, a: Tool, b: Tool) -> impl IntoView {
    let site = use_site();
    let rows = rows
        .into_iter()
        .map(|row| {
            let heading = match &row.persona {
                Some(p) => view! { <a href=site.href(&format!("reviewer/{}/", p.slug))>{p.name.clone()}</a> }
                    .into_any(),
                None => "Panel".into_any(),
            };
            let [ta, tb] = row.takes;
            view! {
                <article class="score-row">
                    <h3>{heading}</h3>
                    <div class="takes">
                        <Take tool=a.name.clone() review=ta />
                        <Take tool=b.name.clone() review=tb />
                    </div>
                </article>
            }
        })
        .collect_view();
    view! {
        <section class="section" aria-labelledby="scorecard-h">
            <h2 id="scorecard-h">"Reviewer scorecard"</h2>
            {rows}
        </section>
    }
}

#[component]
fn Take(tool: String, review: Option<Review>) -> impl IntoView {
    match review {
        Some(r) => {
            let text = r.text.clone();
            view! {
                <div class="take">
                    <p class="take-tool">{tool}</p>
                    <ScoreBar review=r />
                    <blockquote>
                        <p>{text}</p>
                    </blockquote>
                </div>
            }
            .into_any()
        }
        None => view! {
            <div class="take take-none">
                <p class="take-tool">{tool}</p>
                <p class="muted">"No panel take"</p>
            </div>
        }
        .into_any(),
    }
}
