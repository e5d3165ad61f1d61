// Starts the OCR page's inference worker (crates/worker): the wasm-bindgen glue and the
// module Trunk built beside this file (a worker's files keep their names: index.html,
// data-type="worker"). The page creates `new Worker(".../ocr-worker-loader.js")`.
//
// A crash of the module (a trap: a panic, or running out of memory, which aborts without
// a panic message) leaves this script alive: it tells the page what happened, with the
// size of the allocation that failed when there was one, and the page restarts the worker.
// The page reads `{crash, oom}` (see crates/web/src/ocr/client.rs); every other message
// is `ocr-protocol`'s `{msg}`.
importScripts("./ocr-worker.js");

let reported = false;
function crashed(what) {
  if (reported) return;
  reported = true;
  let oom = 0;
  try {
    oom = wasm_bindgen.last_failed_allocation();
  } catch (_) {
    // The module may not have started; then there is no number to read.
  }
  self.postMessage({ crash: String(what), oom: oom });
}

self.addEventListener("error", (e) => crashed(e.message || e.error || "unknown error"));
self.addEventListener("unhandledrejection", (e) => crashed(e.reason && e.reason.message ? e.reason.message : e.reason));

wasm_bindgen({ module_or_path: "./ocr-worker_bg.wasm" }).catch((e) => crashed("the model worker could not start: " + e));
