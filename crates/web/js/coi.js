// On the pages that run the model (/ocr/, /kiosk/, /bench/), where the host did not make
// the page cross-origin isolated (no COOP/COEP headers), registers the site's service
// worker (public/coi-sw.js), which adds them, and reloads once: the OCR worker then gets
// SharedArrayBuffer and its threads. Not inside an iframe (the widget is isolated by
// Document-Isolation-Policy where the browser has it, else runs on one thread), and
// never twice in one tab (sessionStorage), so a browser that refuses loops nowhere.
(function () {
  if (self.crossOriginIsolated || !self.isSecureContext || !("serviceWorker" in navigator)) return;
  if (window.top !== window) return;
  if (!/\/(ocr|kiosk|bench)\/$/.test(location.pathname)) return;
  var KEY = "coi-reloaded";
  try {
    if (sessionStorage.getItem(KEY)) return;
  } catch (_) {
    return;
  }
  addEventListener("DOMContentLoaded", function () {
    var meta = document.querySelector('meta[name="site-url"]');
    if (!meta) return;
    // The site's path on this origin (the URL it was built for may name another host:
    // a mirror, or the tests' loopback port).
    var site = new URL(new URL(meta.content, location.href).pathname, location.origin);
    navigator.serviceWorker.register(new URL("coi-sw.js", site).href).then(function (reg) {
      var reload = function () {
        sessionStorage.setItem(KEY, "1");
        location.reload();
      };
      var w = reg.active || reg.waiting || reg.installing;
      if (reg.active) return reload();
      if (w) {
        w.addEventListener("statechange", function () {
          if (w.state === "activated") reload();
        });
      }
    }, function () {});
  });
})();
