//! One module per page (routes are in `lib.rs`).

mod bench;
mod compare;
mod embed;
mod home;
mod not_found;
mod ocr;
mod reviewer;
mod tool;

pub use bench::BenchPage;
pub use compare::Compare;
pub use embed::Embed;
pub use home::Home;
pub use not_found::NotFound;
pub use ocr::{EmbedOcr, KioskPage, OcrPage};
pub use reviewer::Reviewer;
pub use tool::ToolPage;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// A route parameter as a reactive value ("" when absent).
fn param(name: &'static str) -> impl Fn() -> String + Copy {
    let params = use_params_map();
    move || params.read().get(name).unwrap_or_default()
}
