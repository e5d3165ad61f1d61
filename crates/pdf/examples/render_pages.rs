//! Renders pages of a PDF and says how long each took and how much memory the process
//! peaked at: `cargo run --release -p pdf-pages --example render_pages -- FILE.pdf
//! [PAGES] [LONGEST_EDGE_PX] [OUT_DIR]` (defaults: all, 2048, no files written).

use std::time::Instant;

use pdf_pages::{PageRange, Pdf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        return Err("usage: render_pages FILE.pdf [PAGES] [LONGEST_EDGE_PX] [OUT_DIR]".into());
    };
    let range = PageRange::parse(args.get(1).map_or("all", String::as_str))?;
    let size = args.get(2).map_or(Ok(2048), |s| s.parse())?;
    let started = Instant::now();
    let pdf = Pdf::open(std::fs::read(path)?)?;
    println!("opened {} pages in {:.1} ms", pdf.page_count(), ms(started));
    let pages = range.pages(pdf.page_count())?;
    let all = Instant::now();
    for &index in &pages {
        let started = Instant::now();
        let picture = pdf.render(index, size)?;
        let (w, h) = picture.dimensions();
        println!("page {}: {w}×{h} px in {:.1} ms", index + 1, ms(started));
        if let Some(dir) = args.get(3) {
            picture.save(format!("{dir}/page-{}.png", index + 1))?;
        }
    }
    let per_page = ms(all) / pages.len() as f64;
    println!(
        "{} pages, {per_page:.1} ms a page, peak memory {}",
        pages.len(),
        peak_rss()
    );
    Ok(())
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// The process's peak resident memory (Linux's VmHWM), or "unknown".
fn peak_rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:"));
    line.map_or("unknown".into(), |l| l["VmHWM:".len()..].trim().to_string())
}
