use leptos::prelude::*;

use crate::{components::Shell, use_site};

/// Shown for any path the site does not have (also written to `404.html`).
#[component]
pub fn NotFound() -> impl IntoView {
    let site = use_site();
    view! {
        <Shell>
            <section class="page-head not-found">
                <p class="eyebrow">"404"</p>
                <h1>"Page not found"</h1>
                <p class="lede">
                    "There is no page at this address. The tool or comparison may have been renamed."
                </p>
                <p>
                    <a class="button" href=site.href("")>"See all comparisons"</a>
                </p>
            </section>
        </Shell>
    }
}
