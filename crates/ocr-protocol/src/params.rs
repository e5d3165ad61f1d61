//! The query parameters of `/ocr`, `/embed/ocr` and `/kiosk/` (DESIGN.md's OCR-page
//! contract): `model=`, `mmproj=`, `backend=auto|webgpu|wasm`, `tiles=all|N`,
//! `max_new_tokens`, `min_new_tokens`, `prompt`, `pages=1-3,7` (a PDF's pages), `threads=N` (a cap on the worker's
//! threads), `build=NAME` (one worker build, for comparisons); and `kiosk=1`.
//!
//! A value that does not parse is reported (in [`OcrParams::problems`]) and its default
//! used, so a typo in a shared link shows a message instead of a blank page.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::models::{ModelFile, ModelSource};
use crate::Tiles;

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// WebGPU on a real (not fallback) adapter when the build has it, else wasm.
    #[default]
    Auto,
    Webgpu,
    Wasm,
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Webgpu => "webgpu",
            Self::Wasm => "wasm",
        })
    }
}

/// Largest `max_new_tokens` the page accepts (the model's context bounds it further).
pub const MAX_NEW_TOKENS_LIMIT: u32 = 4096;
/// The page's default answer length.
pub const DEFAULT_MAX_NEW_TOKENS: u32 = 256;

/// Largest `threads=` the page accepts (browsers report at most a few hundred cores).
pub const MAX_THREADS: u32 = 256;

/// The worker builds `ocr-worker-loader.js` chooses from (`build=` names one).
pub const WORKER_BUILDS: &[&str] = &[
    "simd128",
    "relaxed-simd",
    "simd128-threads",
    "relaxed-simd-threads",
];

/// The worker's address: `loader` (the site's `ocr-worker-loader.js`) with the `threads`
/// cap and `build` choice it reads from its own query string.
pub fn worker_url(loader: &str, threads: Option<u32>, build: Option<&str>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(n) = threads {
        query.append_pair("threads", &n.to_string());
    }
    if let Some(b) = build {
        query.append_pair("build", b);
    }
    let query = query.finish();
    if query.is_empty() {
        loader.to_string()
    } else {
        format!("{loader}?{query}")
    }
}

/// The parsed query string.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OcrParams {
    pub model: Option<String>,
    pub mmproj: Option<String>,
    pub backend: BackendChoice,
    pub tiles: Option<Tiles>,
    pub max_new_tokens: Option<u32>,
    pub min_new_tokens: Option<u32>,
    pub prompt: Option<String>,
    /// The pages of a PDF to convert, as written (`1-3,7`); checked when parsed.
    pub pages: Option<crate::pages::PageRange>,
    pub kiosk: bool,
    /// At most this many threads for the model (default: the browser's core count).
    pub threads: Option<u32>,
    /// One of the worker builds, by name, instead of the fastest the browser runs.
    pub build: Option<String>,
    /// Values that did not parse, as sentences for the page.
    pub problems: Vec<String>,
}

impl OcrParams {
    /// From `location.search` (with or without the leading `?`).
    pub fn from_query(query: &str) -> Self {
        let mut p = Self::default();
        let query = query.strip_prefix('?').unwrap_or(query);
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim().to_string();
            match key.as_ref() {
                "model" if !value.is_empty() => p.model = Some(value),
                "mmproj" if !value.is_empty() => p.mmproj = Some(value),
                "backend" => match value.as_str() {
                    "auto" => p.backend = BackendChoice::Auto,
                    "webgpu" => p.backend = BackendChoice::Webgpu,
                    "wasm" => p.backend = BackendChoice::Wasm,
                    _ => p.problems.push(format!(
                        "backend={value:?} is not one of auto, webgpu, wasm: using auto"
                    )),
                },
                "tiles" => match value.parse::<Tiles>() {
                    Ok(t) => p.tiles = Some(t),
                    Err(e) => p.problems.push(format!("{e}: using the default")),
                },
                "max_new_tokens" => match value.parse::<u32>() {
                    Ok(n) if (1..=MAX_NEW_TOKENS_LIMIT).contains(&n) => {
                        p.max_new_tokens = Some(n)
                    }
                    _ => p.problems.push(format!(
                        "max_new_tokens={value:?} must be a number from 1 to {MAX_NEW_TOKENS_LIMIT}: using {DEFAULT_MAX_NEW_TOKENS}"
                    )),
                },
                "min_new_tokens" => match value.parse::<u32>() {
                    Ok(n) if n <= MAX_NEW_TOKENS_LIMIT => p.min_new_tokens = Some(n),
                    _ => p.problems.push(format!(
                        "min_new_tokens={value:?} must be a number from 0 to {MAX_NEW_TOKENS_LIMIT}: using 0"
                    )),
                },
                "prompt" if !value.is_empty() => p.prompt = Some(value),
                "pages" => match crate::pages::PageRange::parse(&value) {
                    Ok(r) => p.pages = Some(r),
                    Err(e) => p.problems.push(format!("{e}: using every page")),
                },
                "threads" => match value.parse::<u32>() {
                    Ok(n) if (1..=MAX_THREADS).contains(&n) => p.threads = Some(n),
                    _ => p.problems.push(format!(
                        "threads={value:?} must be a number from 1 to {MAX_THREADS}: using every core"
                    )),
                },
                "build" => match WORKER_BUILDS.iter().find(|b| **b == value) {
                    Some(b) => p.build = Some((*b).to_string()),
                    None => p.problems.push(format!(
                        "build={value:?} is not one of {}: using the fastest",
                        WORKER_BUILDS.join(", ")
                    )),
                },
                "kiosk" => p.kiosk = matches!(value.as_str(), "" | "1" | "true" | "yes"),
                _ => {}
            }
        }
        if let (Some(min), Some(max)) = (p.min_new_tokens, p.max_new_tokens) {
            if min > max {
                p.problems.push(format!(
                    "min_new_tokens ({min}) is larger than max_new_tokens ({max}): using {max}"
                ));
                p.min_new_tokens = Some(max);
            }
        }
        p
    }

    /// The model the parameters name, if any. `resolve` turns a relative URL into an
    /// absolute one against the page (the browser's `new URL(u, location)`). Errors are
    /// sentences for the page.
    pub fn model_source(
        &self,
        resolve: impl Fn(&str) -> Result<String, String>,
    ) -> Result<Option<ModelSource>, String> {
        let Some(model) = &self.model else {
            if self.mmproj.is_some() {
                return Err("mmproj= goes with model= (the text .gguf): add model=".into());
            }
            return Ok(None);
        };
        let path = model.split(['?', '#']).next().unwrap_or(model);
        if path.ends_with('/') {
            if self.mmproj.is_some() {
                return Err(format!(
                    "model={model} is a folder, which holds its own vision weights: drop mmproj="
                ));
            }
            return Ok(Some(ModelSource::HubFolder {
                url: resolve(model)?,
            }));
        }
        if path.to_ascii_lowercase().ends_with(".gguf") {
            let Some(mmproj) = &self.mmproj else {
                return Err(format!(
                    "model={model} is a GGUF text model: add mmproj= with its vision .gguf"
                ));
            };
            return Ok(Some(ModelSource::Gguf {
                model: ModelFile::url(resolve(model)?),
                mmproj: ModelFile::url(resolve(mmproj)?),
            }));
        }
        Err(format!(
            "model={model} must be a Hub-layout folder URL ending in / (with config.json, \
             model.safetensors, tokenizer.json…) or a text .gguf URL together with mmproj="
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abs(u: &str) -> Result<String, String> {
        Ok(if u.starts_with("http") {
            u.to_string()
        } else {
            format!("http://site{u}")
        })
    }

    #[test]
    fn threads_and_build_parse_and_reach_the_worker_url() {
        let p = OcrParams::from_query("?threads=3&build=relaxed-simd");
        assert_eq!(p.problems, Vec::<String>::new());
        assert_eq!(p.threads, Some(3));
        assert_eq!(p.build.as_deref(), Some("relaxed-simd"));
        assert_eq!(
            worker_url("/ocr-worker-loader.js", p.threads, p.build.as_deref()),
            "/ocr-worker-loader.js?threads=3&build=relaxed-simd"
        );
        assert_eq!(
            worker_url("/ocr-worker-loader.js", None, None),
            "/ocr-worker-loader.js"
        );
    }

    #[test]
    fn bad_threads_and_build_are_reported_and_ignored() {
        let p = OcrParams::from_query("?threads=0&build=fastest");
        assert_eq!(p.threads, None);
        assert_eq!(p.build, None);
        assert_eq!(p.problems.len(), 2, "{:?}", p.problems);
        assert!(p.problems[0].contains("threads=\"0\""), "{}", p.problems[0]);
        assert!(
            p.problems[1].contains("relaxed-simd-threads"),
            "{}",
            p.problems[1]
        );
    }

    #[test]
    fn every_contract_parameter_parses() {
        let p = OcrParams::from_query(
            "?model=%2Fmodels%2Ftiny%2Fm.gguf&mmproj=/models/tiny/mm.gguf&backend=wasm&tiles=0\
             &max_new_tokens=12&min_new_tokens=12&prompt=Read+the+text%21",
        );
        assert_eq!(p.problems, Vec::<String>::new());
        assert_eq!(p.backend, BackendChoice::Wasm);
        assert_eq!(p.tiles, Some(Tiles::Max(0)));
        assert_eq!(p.max_new_tokens, Some(12));
        assert_eq!(p.min_new_tokens, Some(12));
        assert_eq!(p.prompt.as_deref(), Some("Read the text!"));
        let src = p.model_source(abs).unwrap().unwrap();
        assert_eq!(
            src,
            ModelSource::Gguf {
                model: ModelFile::url("http://site/models/tiny/m.gguf"),
                mmproj: ModelFile::url("http://site/models/tiny/mm.gguf"),
            }
        );
    }

    #[test]
    fn pages_are_read_as_the_cli_reads_them_and_a_bad_range_is_reported() {
        let p = OcrParams::from_query("pages=3%2C1-2");
        assert_eq!(
            p.pages.as_ref().map(|r| r.to_string()).as_deref(),
            Some("3,1-2")
        );
        assert_eq!(p.pages.unwrap().pages(3).unwrap(), [2, 0, 1]);
        let p = OcrParams::from_query("pages=2-1");
        assert_eq!(p.pages, None);
        assert_eq!(
            p.problems,
            ["page range \"2-1\": \"2-1\" runs backwards: write 1-2: using every page"]
        );
    }

    #[test]
    fn a_folder_url_is_a_hub_folder() {
        let p = OcrParams::from_query("model=https://x.org/m/");
        assert_eq!(
            p.model_source(abs).unwrap(),
            Some(ModelSource::HubFolder {
                url: "https://x.org/m/".into()
            })
        );
    }

    #[test]
    fn a_gguf_without_mmproj_is_explained() {
        let e = OcrParams::from_query("model=/m.gguf")
            .model_source(abs)
            .unwrap_err();
        assert!(e.contains("add mmproj="), "{e}");
    }

    #[test]
    fn a_file_that_is_neither_is_explained() {
        let e = OcrParams::from_query("model=/m/config.json")
            .model_source(abs)
            .unwrap_err();
        assert!(e.contains("ending in /"), "{e}");
    }

    #[test]
    fn bad_values_are_reported_and_defaults_kept() {
        let p = OcrParams::from_query("backend=cuda&tiles=lots&max_new_tokens=0&min_new_tokens=-1");
        assert_eq!(p.backend, BackendChoice::Auto);
        assert_eq!(p.tiles, None);
        assert_eq!(p.max_new_tokens, None);
        assert_eq!(p.min_new_tokens, None);
        assert_eq!(p.problems.len(), 4, "{:?}", p.problems);
    }

    #[test]
    fn min_above_max_is_capped() {
        let p = OcrParams::from_query("max_new_tokens=4&min_new_tokens=9");
        assert_eq!(p.min_new_tokens, Some(4));
        assert_eq!(p.problems.len(), 1);
    }

    #[test]
    fn kiosk_flag() {
        assert!(OcrParams::from_query("kiosk=1").kiosk);
        assert!(OcrParams::from_query("kiosk").kiosk);
        assert!(!OcrParams::from_query("kiosk=0").kiosk);
    }
}
