// Browser tests of the built site. `cargo xtask test` builds dist/, serves it on a free
// localhost port (SITE_ORIGIN) and runs these in Debian's Chromium (CHROMIUM); Playwright
// never downloads a browser here.
import { defineConfig } from '@playwright/test';

const origin = process.env.SITE_ORIGIN;
if (!origin) {
  throw new Error('SITE_ORIGIN is not set: run the browser tests with `cargo xtask test`');
}

export default defineConfig({
  testDir: './e2e',
  timeout: 30_000,
  workers: 2,
  reporter: [['list']],
  use: {
    baseURL: origin,
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      // Playwright adds --headless and a fresh --user-data-dir. Without the networking flags
      // Chromium keeps trying to reach Google's services, which this machine refuses.
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        // A fake camera (a test pattern) that needs no permission prompt: the OCR page's
        // camera capture runs in the tests.
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
      ],
    },
  },
});
