//! Files made from the catalog at build time: SVG badges, oEmbed JSON, OG images (PNG).

use anyhow::{Context, Result};
use catalog::{BadgeVariant, Catalog};
use resvg::{tiny_skia, usvg};
use web::routes;

use crate::{Output, SiteUrl};

/// Every badge (`badge/<slug>[-flat][-dark].svg`), oEmbed file (`oembed/<slug>.json`) and
/// OG image (`og/tool-<slug>.png`, `og/compare-<slug>.png`).
pub fn all(catalog: &Catalog, url: &SiteUrl) -> Result<Vec<Output>> {
    let mut out = Vec::new();
    for tool in &catalog.tools {
        for v in BadgeVariant::ALL {
            out.push(Output {
                path: format!("badge/{}", v.file_name(&tool.slug)).into(),
                bytes: catalog::badge_svg(tool, v).into_bytes(),
            });
        }
        out.push(Output {
            path: format!("oembed/{}.json", tool.slug).into(),
            bytes: catalog::oembed_json(tool, &url.url).into_bytes(),
        });
        let png = png_from_svg(&catalog::og_tool_svg(tool))
            .with_context(|| format!("OG image of tool {}", tool.slug))?;
        out.push(Output {
            path: routes::og_tool(&tool.slug).into(),
            bytes: png,
        });
    }
    for cmp in &catalog.comparisons {
        let page = catalog
            .compare_page(&cmp.slug)
            .with_context(|| format!("comparison {} names a missing tool", cmp.slug))?;
        let [a, b] = &page.tools;
        let png = png_from_svg(&catalog::og_compare_svg(a, b))
            .with_context(|| format!("OG image of comparison {}", cmp.slug))?;
        out.push(Output {
            path: routes::og_compare(&cmp.slug).into(),
            bytes: png,
        });
    }
    Ok(out)
}

/// Rasterizes an SVG to PNG at its own size. The OG SVGs draw their text as paths, so no
/// font is needed here.
pub fn png_from_svg(svg: &str) -> Result<Vec<u8>> {
    let tree = usvg::Tree::from_str(svg, &usvg::Options::default()).context("parsing the SVG")?;
    let size = tree.size().to_int_size();
    let mut pixmap =
        tiny_skia::Pixmap::new(size.width(), size.height()).context("the SVG has an empty size")?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.encode_png().context("encoding the PNG")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn og_svg_rasterizes_to_a_png_of_its_size() {
        let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" width="12" height="7"><rect width="12" height="7" fill="#0b6b3a"/></svg>"##;
        let png = png_from_svg(svg).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big-endian, at bytes 16..24.
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 12);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 7);
    }

    #[test]
    fn broken_svg_is_an_error_not_a_panic() {
        assert!(png_from_svg("<svg").is_err());
    }
}
