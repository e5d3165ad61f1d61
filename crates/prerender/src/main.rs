//! `prerender --dist DIR --site-url URL`: writes every page and asset of the site into the
//! folder Trunk built (see the library docs). Run by `cargo xtask dist`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use prerender::SiteUrl;

fn main() -> Result<()> {
    // Two flags, both required, from xtask: not worth an argument-parser dependency.
    let mut dist = None;
    let mut site_url = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dist" => dist = args.next().map(PathBuf::from),
            "--site-url" => site_url = args.next(),
            other => {
                bail!("unknown argument {other:?}; usage: prerender --dist DIR --site-url URL")
            }
        }
    }
    let dist = dist.context("missing --dist DIR")?;
    let mut url = SiteUrl::parse(&site_url.context("missing --site-url URL")?)?;
    // Set by `cargo xtask dist --votes-api URL` and `cargo xtask serve` (xtask's votes.rs).
    url.votes_api = std::env::var("XTASK_VOTES_API")
        .ok()
        .filter(|s| !s.is_empty());
    let outputs = prerender::build(&dist, &url)?;
    prerender::write_all(&dist, &outputs)?;
    let bytes: usize = outputs.iter().map(|o| o.bytes.len()).sum();
    eprintln!(
        "prerender: wrote {} files ({} KiB) to {} for {}",
        outputs.len(),
        bytes / 1024,
        dist.display(),
        url.url
    );
    Ok(())
}
