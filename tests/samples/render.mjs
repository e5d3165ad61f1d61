// Renders the OCR demo's sample pictures from the HTML pages beside this script:
// receipt.html -> $OUT_DIR/receipt.png, screenshot.html -> $OUT_DIR/screenshot.png.
// Run from tests/ as `node samples/render.mjs` (`cargo xtask ocr samples` does), with
// CHROMIUM (Debian's Chromium; never a downloaded browser) and OUT_DIR set.
// Only system fonts are used; the pages load nothing from the network.

import { chromium } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = process.env.OUT_DIR;
if (!outDir) {
  console.error('render.mjs: set OUT_DIR to the folder the PNGs go to');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const samples = [
  { html: 'receipt.html', png: 'receipt.png' },
  { html: 'screenshot.html', png: 'screenshot.png' },
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
try {
  const context = await browser.newContext({
    viewport: { width: 800, height: 600 },
    deviceScaleFactor: 1,
  });
  // The pages are self-contained: refuse anything that is not a local file.
  await context.route(/^(?!file:)/, (route) => route.abort());
  for (const { html, png } of samples) {
    const page = await context.newPage();
    await page.goto(pathToFileURL(join(here, html)).href);
    await page.evaluate(() => document.fonts.ready);
    const out = join(outDir, png);
    await page.locator('#sample').screenshot({ path: out, animations: 'disabled' });
    // Lossless recompression when Debian's optipng is there (the committed PNGs went
    // through it); without it the PNGs are the same pixels, only somewhat larger.
    const opt = spawnSync('optipng', ['-quiet', '-o5', '-strip', 'all', out], { stdio: 'inherit' });
    if (opt.error) console.log('optipng not found: PNG left as Chromium wrote it');
    console.log(`wrote ${out} (${statSync(out).size} bytes)`);
    await page.close();
  }
} finally {
  await browser.close();
}
