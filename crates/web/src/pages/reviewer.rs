//! `/reviewer/<persona>/`: one persona's verdicts across tools.

use catalog::Persona;
use leptos::prelude::*;

use super::{param, NotFound};
use crate::{
    components::{ScoreBar, Shell},
    use_site,
};

#[component]
pub fn Reviewer() -> impl IntoView {
    let site = use_site();
    let slug = param("persona");
    move || match site.catalog.persona(&slug()) {
        Some(p) => view! { <ReviewerView persona=p.clone() /> }.into_any(),
        None => view! { <NotFound /> }.into_any(),
    }
}

#[component]
fn ReviewerView(persona: Persona) -> impl IntoView {
    let site = use_site();
    let takes = site.catalog.persona_takes(&persona.slug);
    let count = takes.len();
    let items = takes
        .into_iter()
        .map(|take| {
            let text = take.review.text.clone();
            view! {
                <li class="card take-card">
                    <h3><a href=site.href(&format!("tool/{}/", take.tool.slug))>{take.tool.name.clone()}</a></h3>
                    <p class="tagline">{take.tool.tagline.clone()}</p>
                    <ScoreBar review=take.review />
                    <blockquote><p>{text}</p></blockquote>
                </li>
            }
        })
        .collect_view();
    view! {
        <Shell>
            <header class="page-head">
                <p class="eyebrow">"Reviewer"</p>
                <h1>{format!("The {}", persona.name)}</h1>
                <p class="lede">{persona.focus.clone()}</p>
                <p class="muted">{format!("{count} verdict{}", if count == 1 { "" } else { "s" })}</p>
            </header>
            <ul class="stack">{items}</ul>
        </Shell>
    }
}
