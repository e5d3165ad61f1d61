//! Writes every badge and OG image of the built-in content to a folder as SVG and PNG
//! (rasterized with resvg), to look at them: `cargo run -p catalog --example
//! render_samples -- OUT_DIR`.

use catalog::{badge_svg, og_compare_svg, og_tool_svg, BadgeVariant, Catalog};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: render_samples OUT_DIR")?,
    );
    std::fs::create_dir_all(&out)?;
    let cat = Catalog::builtin()?;
    let mut files: Vec<(String, String)> = Vec::new();
    for t in &cat.tools {
        for v in BadgeVariant::ALL {
            files.push((format!("badge-{}", v.file_name(&t.slug)), badge_svg(t, v)));
        }
        files.push((format!("og-tool-{}.svg", t.slug), og_tool_svg(t)));
    }
    for c in &cat.comparisons {
        let (a, b) = (
            cat.tool(&c.tools[0]).ok_or("tool")?,
            cat.tool(&c.tools[1]).ok_or("tool")?,
        );
        files.push((format!("og-compare-{}.svg", c.slug), og_compare_svg(a, b)));
    }
    for (name, svg) in files {
        std::fs::write(out.join(&name), &svg)?;
        let tree = resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default())?;
        let size = tree.size().to_int_size();
        let scale = if name.starts_with("badge") { 2.0 } else { 1.0 };
        let mut pix = resvg::tiny_skia::Pixmap::new(
            (size.width() as f32 * scale) as u32,
            (size.height() as f32 * scale) as u32,
        )
        .ok_or("pixmap")?;
        resvg::render(
            &tree,
            resvg::tiny_skia::Transform::from_scale(scale, scale),
            &mut pix.as_mut(),
        );
        pix.save_png(out.join(name.replace(".svg", ".png")))?;
        println!("{name}: {} bytes", svg.len());
    }
    Ok(())
}
