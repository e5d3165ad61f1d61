//! One run: the runtime's steps, with the event loop let in between two (so a Stop is read
//! at once), and its events as messages to the page.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::Reflect;
use ocr_protocol::{Event, Failure, FailureKind, RunRequest, RunResult};
use smolvlm::processor::RgbImage;
use smolvlm_runtime::{document, picture, Backend, Engine, Events, Picture, RunSpec, Step};

use super::{gpu, now, post, post_with_bytes, yield_now, STATE};

/// The runtime's events of run `run`, as messages to the page and lines on the console.
struct Post {
    run: u32,
}

impl Events for Post {
    fn encoding(&mut self, done: u32, frames: u32) {
        post(&Event::Encoding {
            run: self.run,
            done,
            frames,
        });
    }

    fn notice(&mut self, text: &str) {
        // After a notice the CPU runs the run.
        post(&Event::Notice {
            run: self.run,
            backend: WASM.to_string(),
            text: text.to_string(),
        });
    }

    fn note(&mut self, text: &str) {
        gpu::note(text);
    }
}

/// One run, stepped by the runtime; between two steps the event loop runs, so a Stop
/// message is read at once.
pub(super) async fn run(
    req: RunRequest,
    image: Option<Vec<u8>>,
    stop: Rc<Cell<bool>>,
) -> Result<(), Failure> {
    let Some(engine) = STATE.with(|s| s.borrow().engine.clone()) else {
        return Err(Failure::new(FailureKind::BadRequest, "Load a model first."));
    };
    let mut events = Post { run: req.run };
    let page = match (req.page, &image) {
        (Some(index), Some(bytes)) => Some(pdf_page(&engine, req.run, index, bytes)?),
        _ => None,
    };
    let spec = RunSpec {
        prompt: &req.prompt,
        image: match &page {
            Some(pixels) => Some(Picture::Pixels(pixels)),
            None => image.as_deref().map(Picture::File),
        },
        tiles: picture::tiles(req.tiles),
        params: engine.greedy(req.max_new_tokens as usize, req.min_new_tokens as usize),
    };
    let mut run = engine.start(spec, &now, &mut events)?;
    drop(image);
    drop(page);
    if let Some(n) = lose_gpu_after() {
        run.destroy_gpu_after(n);
    }
    let outcome = loop {
        yield_now().await;
        if stop.get() {
            break run.stop()?;
        }
        match run.step(&mut events).await? {
            Step::Token(id) => post(&Event::Token {
                run: req.run,
                id,
                text: run.text()?.trim_end_matches('\u{FFFD}').to_string(),
            }),
            Step::Done(outcome) => break outcome,
            Step::Encoded | Step::Prefilled => {}
        }
    };
    post(&Event::Done {
        run: req.run,
        result: RunResult {
            prompt_ids: outcome.prompt_ids,
            generated_ids: outcome.generated_ids,
            text: outcome.text,
            stop: outcome.stop,
            backend: backend_name(outcome.backend).to_string(),
            timings: outcome.timings,
        },
    });
    Ok(())
}

/// Page `index` of the PDF `bytes`, rendered as the model wants it, and shown to the page
/// ([`Event::PageImage`]) before the model reads it.
fn pdf_page(engine: &Engine, run: u32, index: u32, bytes: &[u8]) -> Result<RgbImage, Failure> {
    let Some(processor) = &engine.loaded().image_processor else {
        return Err(Failure::new(
            FailureKind::BadRequest,
            "This model has no image settings (preprocessor_config.json), so it cannot read pages.",
        ));
    };
    let pdf = document::open(bytes)?;
    let pixels = document::render(&pdf, index as usize, processor.config.longest_edge)?;
    post_with_bytes(
        &Event::PageImage {
            run,
            page: index,
            width: pixels.width(),
            height: pixels.height(),
        },
        &document::png(&pixels)?,
    );
    Ok(pixels)
}

/// The browser tests' hook for the GPU hand-over: a test sets `smolvlmTestLoseGpuAfter = N`
/// on this worker's global scope (Playwright's `worker.evaluate`), and the next runs
/// destroy the device once N tokens exist, a real loss as a driver reset makes one.
fn lose_gpu_after() -> Option<usize> {
    Reflect::get(&js_sys::global(), &"smolvlmTestLoseGpuAfter".into())
        .ok()?
        .as_f64()
        .filter(|n| *n >= 0.0)
        .map(|n| n as usize)
}

/// What the page's `backend` element shows for each path.
pub(super) const WASM: &str = "wasm";
pub(super) const WEBGPU: &str = "webgpu";

pub(super) fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Cpu => WASM,
        Backend::Gpu => WEBGPU,
    }
}
