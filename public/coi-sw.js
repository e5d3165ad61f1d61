// Cross-origin isolation for static hosts that cannot send headers (the approach of
// coi-serviceworker): this service worker adds COOP, COEP and CORP to the site's own
// responses, so the OCR pages become `crossOriginIsolated` and the model runs on every
// core (SharedArrayBuffer). Registered by crates/web/js/coi.js only where the page is not
// isolated already; `xtask serve` and hosts that read dist/_headers never need it.
// Other origins' responses (model downloads from the Hub) pass untouched: they are CORS
// requests, which COEP `require-corp` lets through.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (e) => {
  const req = e.request;
  if (new URL(req.url).origin !== self.location.origin) return;
  if (req.cache === "only-if-cached" && req.mode !== "same-origin") return;
  e.respondWith(
    fetch(req).then((res) => {
      if (res.status === 0) return res;
      const headers = new Headers(res.headers);
      headers.set("Cross-Origin-Opener-Policy", "same-origin");
      headers.set("Cross-Origin-Embedder-Policy", "require-corp");
      headers.set("Cross-Origin-Resource-Policy", "cross-origin");
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
    }),
  );
});
