//! Verdict pill and reviewer score bar.

use catalog::{Review, Verdict};
use leptos::prelude::*;

/// "Ship" / "Skip" / "Split" as a coloured pill (the word is always there: colour is never
/// the only signal).
#[component]
pub fn VerdictPill(verdict: Verdict) -> impl IntoView {
    view! { <span class=format!("pill pill-{}", verdict.css_class())>{verdict.as_str()}</span> }
}

/// A reviewer's score as a bar with "88/100 · ship", or the vote alone when the source gives
/// no score.
#[component]
pub fn ScoreBar(review: Review) -> impl IntoView {
    let vote = review.vote.map(|v| v.as_str());
    let vote_class = review.vote.map(|v| format!("vote vote-{}", v.as_str()));
    let label = match (review.score, vote) {
        (Some(s), Some(v)) => format!("{s}/100 · {v}"),
        (Some(s), None) => format!("{s}/100"),
        (None, Some(v)) => v.to_string(),
        (None, None) => String::new(),
    };
    let bar = review.score.map(|s| {
        view! {
            <span class="bar" aria-hidden="true">
                <span class=vote_class.clone().unwrap_or_else(|| "bar-fill".into()) style=format!("width:{s}%")></span>
            </span>
        }
    });
    (!label.is_empty()).then(|| {
        view! {
            <div class="score">
                {bar}
                <span class="score-label">{label}</span>
            </div>
        }
    })
}
