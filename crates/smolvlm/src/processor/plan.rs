//! Output sizes of every resize, the tile grid, and the `--tiles` control.
//!
//! Reference: transformers `models/smolvlm/image_processing_smolvlm.py`
//! (`_resize_output_size_rescale_to_max_len`, `_resize_output_size_scale_below_upper_bound`,
//! `MAX_IMAGE_SIZE`) and `image_processing_pil_smolvlm.py` (`resize_for_vision_encoder`,
//! `split_images`). Python's float arithmetic and `int()` truncation are kept as they are.

use std::str::FromStr;

use super::config::ImageProcessorConfig;

/// transformers' `MAX_IMAGE_SIZE`: no side exceeds 4096 after the longest-edge resize.
const MAX_IMAGE_SIZE: u32 = 4096;

/// Image sizes through the pipeline, `(width, height)` in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// After the longest-edge resize (the input size when `do_resize` is off).
    pub resized: (u32, u32),
    /// After the resize to multiples of the tile side, when splitting.
    pub encoder: Option<(u32, u32)>,
    /// Tile rows (0 when the image is not split).
    pub rows: u32,
    /// Tile columns (0 when the image is not split).
    pub cols: u32,
}

impl Plan {
    /// The sizes `cfg` gives an image of `width` x `height` (both non-zero).
    pub fn new(width: u32, height: u32, cfg: &ImageProcessorConfig) -> Self {
        let resized = if cfg.do_resize {
            longest_edge_size(width, height, cfg.longest_edge)
        } else {
            (width, height)
        };
        if !cfg.do_image_splitting {
            return Self {
                resized,
                encoder: None,
                rows: 0,
                cols: 0,
            };
        }
        let side = cfg.max_image_longest_edge;
        let (w, h) = encoder_size(resized.0, resized.1, side);
        let (rows, cols) = if h > side || w > side {
            ((h - side) / side + 1, (w - side) / side + 1)
        } else {
            (0, 0)
        };
        Self {
            resized,
            encoder: Some((w, h)),
            rows,
            cols,
        }
    }

    /// Crops fed to the encoder besides the global image (`rows * cols`).
    pub fn tiles(&self) -> u32 {
        self.rows * self.cols
    }

    /// Frames fed to the encoder: the tiles and the global image, or the one image.
    pub fn frames(&self) -> u32 {
        self.tiles() + 1
    }
}

/// `get_resize_output_image_size`: longest edge to `longest_edge`, the other edge by the
/// aspect ratio, truncated and then rounded up to even; then capped at 4096.
pub fn longest_edge_size(width: u32, height: u32, longest_edge: u32) -> (u32, u32) {
    let (mut w, mut h) = (width, height);
    let aspect = w as f64 / h as f64;
    if w >= h {
        w = longest_edge;
        h = (w as f64 / aspect) as u32;
        h += h % 2;
    } else {
        h = longest_edge;
        w = (h as f64 * aspect) as u32;
        w += w % 2;
    }
    let (w, h) = (w.max(1), h.max(1));
    let aspect = w as f64 / h as f64;
    let (w, h) = if w >= h && w > MAX_IMAGE_SIZE {
        (MAX_IMAGE_SIZE, (MAX_IMAGE_SIZE as f64 / aspect) as u32)
    } else if h > w && h > MAX_IMAGE_SIZE {
        ((MAX_IMAGE_SIZE as f64 * aspect) as u32, MAX_IMAGE_SIZE)
    } else {
        (w, h)
    };
    (w.max(1), h.max(1))
}

/// `resize_for_vision_encoder`: both edges up to multiples of `side`, the short one from
/// the aspect ratio of the rounded long one.
pub fn encoder_size(width: u32, height: u32, side: u32) -> (u32, u32) {
    let aspect = width as f64 / height as f64;
    let round_up = |v: u32| v.div_ceil(side) * side;
    // transformers would ask PIL for a 0-pixel edge if float error truncated it to 0;
    // one tile is the only sensible size there.
    if width >= height {
        let w = round_up(width);
        let h = round_up((w as f64 / aspect) as u32);
        (w, h.max(side))
    } else {
        let h = round_up(height);
        let w = round_up((h as f64 * aspect) as u32);
        (w.max(side), h)
    }
}

/// How many tiles to allow (the CLI's and the OCR page's `tiles=all|N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tiles {
    /// The checkpoint's own setting.
    #[default]
    All,
    /// At most this many crops besides the global image; `0` turns splitting off
    /// (one square global image).
    Max(u32),
}

impl FromStr for Tiles {
    type Err = String;

    /// `all` or a non-negative integer.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "all" => Ok(Self::All),
            n => n
                .parse()
                .map(Self::Max)
                .map_err(|_| format!("tiles must be `all` or a number of tiles, got {s:?}")),
        }
    }
}

impl ImageProcessorConfig {
    /// The settings that give an image of `width` x `height` at most the tiles allowed.
    ///
    /// `All` keeps the checkpoint's settings; `Max(0)` turns splitting off; `Max(n)` keeps
    /// them if they already give `<= n` crops, else takes the largest `size.longest_edge`
    /// that is a multiple of `max_image_size.longest_edge`, not above the checkpoint's,
    /// whose grid has `<= n` crops (the global image is not counted). The result is what
    /// transformers computes when given those settings as keyword arguments.
    pub fn with_tiles(&self, tiles: Tiles, width: u32, height: u32) -> Self {
        let limit = match tiles {
            Tiles::All => return self.clone(),
            Tiles::Max(0) => {
                return Self {
                    do_image_splitting: false,
                    ..self.clone()
                }
            }
            Tiles::Max(n) => n,
        };
        if !self.do_image_splitting || Plan::new(width, height, self).tiles() <= limit {
            return self.clone();
        }
        let side = self.max_image_longest_edge;
        let at = |k: u32| Self {
            do_resize: true,
            longest_edge: k * side,
            ..self.clone()
        };
        let fits = |k: u32| Plan::new(width, height, &at(k)).tiles() <= limit;
        // Multiples `k * side` of the tile side up to the checkpoint's edge: the tile count
        // grows with k, so the largest k that fits is found by bisection (a crafted edge of
        // billions of tile sides takes a few dozen plans, not a scan).
        let (mut lo, mut hi) = (1u32, (self.longest_edge / side).max(1));
        if !fits(lo) {
            return Self {
                do_image_splitting: false,
                ..self.clone()
            };
        }
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        at(lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(longest_edge: u32, side: u32) -> ImageProcessorConfig {
        ImageProcessorConfig {
            longest_edge,
            max_image_longest_edge: side,
            ..Default::default()
        }
    }

    #[test]
    fn longest_edge_rounds_the_short_edge_up_to_even() {
        // 37x53: h = 2048, w = int(2048 * 37 / 53) = 1429 -> 1430.
        assert_eq!(longest_edge_size(37, 53, 2048), (1430, 2048));
        assert_eq!(longest_edge_size(640, 480, 2048), (2048, 1536));
        // int(2048 / 5000) = 0 stays even, then the floor of 1.
        assert_eq!(longest_edge_size(5000, 1, 2048), (2048, 1));
    }

    #[test]
    fn encoder_size_rounds_up_to_tiles() {
        assert_eq!(encoder_size(1430, 2048, 512), (1536, 2048));
        assert_eq!(encoder_size(2048, 1, 512), (2048, 512));
    }

    #[test]
    fn a_512_square_makes_16_tiles_and_a_global_image() {
        let plan = Plan::new(512, 512, &cfg(2048, 512));
        assert_eq!((plan.rows, plan.cols, plan.frames()), (4, 4, 17));
    }

    #[test]
    fn tiles_cap_picks_the_largest_edge_that_fits() {
        let c = cfg(2048, 512);
        assert_eq!(c.with_tiles(Tiles::All, 512, 512), c);
        assert_eq!(c.with_tiles(Tiles::Max(9), 512, 512).longest_edge, 1536);
        assert_eq!(c.with_tiles(Tiles::Max(4), 512, 512).longest_edge, 1024);
        let one = c.with_tiles(Tiles::Max(1), 512, 512);
        assert_eq!(
            (one.longest_edge, Plan::new(512, 512, &one).tiles()),
            (512, 0)
        );
        assert!(!c.with_tiles(Tiles::Max(0), 512, 512).do_image_splitting);
        // A wide picture: 2048x512 at 2048 is 1x4 tiles, within a cap of 4.
        assert_eq!(c.with_tiles(Tiles::Max(4), 4000, 1000), c);
    }

    /// The bisection gives what a scan from the largest edge down gives, and a crafted
    /// edge of thousands of one-pixel tiles is planned at once instead of scanned.
    #[test]
    fn tiles_cap_by_bisection_equals_the_scan() {
        let scan = |c: &ImageProcessorConfig, n: u32, w: u32, h: u32| -> Option<u32> {
            let side = c.max_image_longest_edge;
            (1..=(c.longest_edge / side).max(1))
                .rev()
                .map(|k| k * side)
                .find(|&e| {
                    let at = ImageProcessorConfig {
                        do_resize: true,
                        longest_edge: e,
                        ..c.clone()
                    };
                    Plan::new(w, h, &at).tiles() <= n
                })
        };
        for (edge, side) in [(2048, 512), (1536, 384), (4096, 512), (100, 7)] {
            let c = cfg(edge, side);
            for (w, h) in [(512, 512), (37, 53), (4000, 1000), (1, 900), (3000, 2999)] {
                for n in 1..20 {
                    let got = c.with_tiles(Tiles::Max(n), w, h);
                    if Plan::new(w, h, &c).tiles() > n {
                        let case = format!("{edge}/{side} {w}x{h} <= {n}");
                        match scan(&c, n, w, h) {
                            Some(e) => assert_eq!(got.longest_edge, e, "{case}"),
                            None => assert!(!got.do_image_splitting, "{case}"),
                        }
                    }
                }
            }
        }
        // The largest edge settings may give (`MAX_EDGE`) in one-pixel tiles.
        let crafted = cfg(8192, 1).with_tiles(Tiles::Max(1), 10, 10);
        // Even one tile side (rounded to 1x2 pixels) is 2 tiles: splitting goes off.
        assert!(!crafted.do_image_splitting);
        let crafted = cfg(8192, 1).with_tiles(Tiles::Max(2), 10, 10);
        assert_eq!(crafted.longest_edge, 1);
        assert_eq!(Plan::new(10, 10, &crafted).tiles(), 2);
    }

    #[test]
    fn tiles_parse() {
        assert_eq!("all".parse::<Tiles>(), Ok(Tiles::All));
        assert_eq!("3".parse::<Tiles>(), Ok(Tiles::Max(3)));
        assert!("-1".parse::<Tiles>().is_err());
    }
}
