//! The frame of every page but the embed card: skip link, header, main, footer.

use catalog::SITE_NAME;
use leptos::prelude::*;

use crate::use_site;

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let site = use_site();
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="site-header">
            <div class="wrap header-row">
                <a class="brand" href=site.href("")>
                    <span class="brand-mark" aria-hidden="true">"S"</span>
                    {SITE_NAME}
                </a>
                <nav aria-label="Site">
                    <ul class="nav-list">
                        <li><a href=site.href("#comparisons")>"Comparisons"</a></li>
                        <li><a href=site.href("#tools")>"Tools"</a></li>
                        <li><a href=site.href("#reviewers")>"Reviewers"</a></li>
                    </ul>
                </nav>
            </div>
        </header>
        <main id="main" class="wrap" tabindex="-1">{children()}</main>
        <footer class="site-footer">
            <div class="wrap">
                <p>
                    "Verdicts, scores and reviews as the expert panel published them. "
                    "Badges and embeds are static files: no tracking, no cookies."
                </p>
                <p>
                    <a href=site.href("sitemap.xml")>"Sitemap"</a>
                </p>
            </div>
        </footer>
    }
}
