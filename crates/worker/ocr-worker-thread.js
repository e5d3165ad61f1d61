// One thread of the threaded worker build's pool (crates/worker/src/web/pool.rs), started
// by ocr-worker-loader.js: instantiates the same module on the same shared memory, says it
// is ready, then runs rayon's thread loop on the thread the pool gives it, for good.
self.onmessage = (e) => {
  const { glue, module, memory } = e.data;
  importScripts(glue);
  wasm_bindgen({ module_or_path: module, memory }).then(
    () => {
      self.onmessage = (e) => wasm_bindgen.pool_thread_run(e.data.receiver);
      self.postMessage({ ready: true });
    },
    (err) => self.postMessage({ failed: String(err) }),
  );
};
