// Starts the OCR page's inference worker (crates/worker) from the fastest of the site's
// builds that this browser can run, and tells the module which one it is and why:
//
//   simd128               Trunk's build (index.html): SIMD128, one thread. Runs everywhere.
//   relaxed-simd          + relaxed SIMD (fused multiply-add): fails to load where missing.
//   simd128-threads       + a pool of workers sharing the memory: needs SharedArrayBuffer,
//   relaxed-simd-threads    which browsers give only to cross-origin isolated pages.
//
// `cargo xtask dist` builds the other three (nightly Rust) when it can and lists in
// ocr-worker-builds.js the ones it made. The page starts
// `new Worker(".../ocr-worker-loader.js?threads=N&build=NAME")`: `threads` caps the pool
// (default: the browser's core count), `build` forces one build (for comparisons).
//
// A crash of the module (a trap: a panic, or running out of memory, which aborts without
// a panic message) leaves this script alive: it tells the page what happened, with the
// size of the allocation that failed when there was one, and the page restarts the worker.
// The page reads `{crash, oom}` (see crates/web/src/ocr/client.rs); every other message
// is `ocr-protocol`'s `{msg}`.

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

// The smallest modules using one instruction of each feature (as wasm-feature-detect's):
// `i8x16.splat; i8x16.popcnt` and `i8x16.splat ×2; i8x16.relaxed_swizzle`.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11]);

function validates(bytes) {
  try {
    return WebAssembly.validate(bytes);
  } catch (_) {
    return false;
  }
}

// The build to run and why it is not the fastest one the site has (null when it is).
function choose(params, built) {
  const cores = Math.max(1, navigator.hardwareConcurrency || 1);
  const asked = parseInt(params.get("threads") || "", 10);
  const threads = asked >= 1 ? Math.min(asked, cores) : cores;
  const isolated = self.crossOriginIsolated === true && typeof SharedArrayBuffer === "function";
  const relaxed = validates(RELAXED_PROBE);
  const why = [];
  let name;
  const forced = params.get("build");
  if (forced && built.includes(forced)) {
    name = forced;
    why.push(`build=${forced} was asked for`);
  } else {
    const multi = threads > 1 && isolated;
    name = (relaxed ? "relaxed-simd" : "simd128") + (multi ? "-threads" : "");
    if (!built.includes(name)) {
      why.push(`the site has no ${name} build`);
      name = "simd128";
    }
    if (!multi && built.some((b) => b.endsWith("-threads"))) {
      if (!isolated) why.push("one thread: this page is not cross-origin isolated");
      else if (asked === 1) why.push("one thread: threads=1 was asked for");
      else if (cores === 1) why.push("one thread: the browser reports one core");
    }
    if (!relaxed && built.some((b) => b.startsWith("relaxed"))) {
      why.push("this browser has no relaxed SIMD");
    }
  }
  if (name.endsWith("-threads") && !isolated) {
    throw new Error(`the ${name} build needs a cross-origin isolated page`);
  }
  return { name, threads: name.endsWith("-threads") ? threads : 1, why: why.length ? why.join("; ") : null };
}

// Starts `count` pool workers on this module and its shared memory (see
// crates/worker/src/web/pool.rs), waits for the ones that start, and builds the pool.
// Returns the threads the model runs on: the pool workers and this one.
async function startPool(glue, count) {
  const module = wasm_bindgen.pool_module();
  const memory = wasm_bindgen.pool_memory();
  const started = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise((resolve) => {
        let w;
        try {
          w = new Worker("./ocr-worker-thread.js");
        } catch (_) {
          resolve(null);
          return;
        }
        w.onmessage = (e) => {
          if (e.data && e.data.ready) {
            resolve(w);
          } else {
            w.terminate();
            resolve(null);
          }
        };
        w.onerror = (e) => {
          e.preventDefault();
          w.terminate();
          resolve(null);
        };
        w.postMessage({ glue: new URL(glue, self.location.href).href, module, memory });
      }),
    ),
  );
  const pool = started.filter(Boolean);
  const receiver = wasm_bindgen.pool_channel();
  for (const w of pool) w.postMessage({ receiver });
  wasm_bindgen.pool_start(pool.length);
  return pool.length + 1;
}

async function start() {
  const params = new URL(self.location.href).searchParams;
  if (!validates(SIMD_PROBE)) {
    throw new Error("this browser has no WebAssembly SIMD (SIMD128), which the model needs");
  }
  self.OCR_WORKER_BUILDS = ["simd128"];
  try {
    importScripts("./ocr-worker-builds.js");
  } catch (_) {
    // A site built without the extra builds: Trunk's one only.
  }
  const build = choose(params, self.OCR_WORKER_BUILDS);
  const stem = build.name === "simd128" ? "ocr-worker" : `ocr-worker-${build.name}`;
  importScripts(`./${stem}.js`);
  await wasm_bindgen({ module_or_path: `./${stem}_bg.wasm` });
  let why = build.why;
  if (build.name.endsWith("-threads")) {
    const threads = await startPool(`./${stem}.js`, build.threads - 1);
    if (threads < build.threads) {
      const lost = `${build.threads - threads} of ${build.threads} threads could not start`;
      why = why ? `${why}; ${lost}` : lost;
    }
  }
  wasm_bindgen.run_worker(build.name, why);
}

start().catch((e) => crashed("the model worker could not start: " + (e && e.message ? e.message : e)));
