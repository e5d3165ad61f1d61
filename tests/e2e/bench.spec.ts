// The benchmark driver of `cargo xtask bench`, not a test of the site: it opens /bench with
// `?autorun=1` (and BENCH_QUERY: size, dtype, backend, token counts), waits for the
// worker's numbers and writes them to BENCH_OUT for xtask to print beside native
// `smolvlm bench`. Skipped unless BENCH_OUT is set.
import { writeFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { waitForApp } from './site';
import { CHROMIUM_ARGS } from '../chromium';

const out = process.env.BENCH_OUT;

// WebGPU for `backend=webgpu` (headless, SwiftShader: a software adapter, which the
// report names); the CPU benchmark does not use it.
test.use({
  launchOptions: {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'],
  },
});

test('the /bench page measures SmolVLM2 in this browser', async ({ page }) => {
  test.skip(!out, 'a benchmark: `cargo xtask bench` runs it');
  // Random weights at the real dimensions, prefill 512, decode 128 and one tile.
  test.setTimeout(1_200_000);
  await page.goto(`/bench/?autorun=1&${process.env.BENCH_QUERY ?? ''}`);
  await waitForApp(page);
  const status = page.getByTestId('bench-status');
  await expect(status).toHaveAttribute('data-state', /done|error/, { timeout: 1_150_000 });
  if ((await status.getAttribute('data-state')) === 'error') {
    const log = await page.locator('.bench-log').textContent();
    throw new Error(`the benchmark failed: ${await status.textContent()}\n${log ?? ''}`);
  }
  const json = await page.getByTestId('bench-json').textContent();
  writeFileSync(out!, json ?? '');
});
