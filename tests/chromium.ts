// Debian Chromium's flags for every browser test. Playwright adds --headless and a fresh
// --user-data-dir. Without the networking flags Chromium keeps trying to reach Google's
// services, which this machine refuses.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // A fake camera (a test pattern) that needs no permission prompt: the OCR page's
  // camera capture runs in the tests.
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];
