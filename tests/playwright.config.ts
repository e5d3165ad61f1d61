// Browser tests of the built site. `cargo xtask test` builds dist/, serves it on a free
// localhost port (SITE_ORIGIN) and runs these in Debian's Chromium (CHROMIUM); Playwright
// never downloads a browser here.
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS } from './chromium';

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
      args: CHROMIUM_ARGS,
    },
  },
});
