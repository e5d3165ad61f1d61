// The OCR page on WebGPU: Chromium with `--enable-unsafe-webgpu` (headless, it is
// SwiftShader, a software adapter), the tiny fixture models served at /models/, and the
// page asked for `backend=webgpu`. The model runs on our WGSL kernels in the worker and
// must give the CLI's greedy ids and text (xtask's `ocr.rs` passes them in OCR_CASES), as
// the CPU path in `ocr.spec.ts` does. Where this Chromium has no WebGPU at all, the tests
// fail and say so: they never skip.
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { collectErrors, waitForApp } from './site';

interface Case {
  name: string;
  query: string;
  prompt: string;
  image: string;
  cli: { prompt_ids: number[]; generated_ids: number[]; text: string };
}

const casesFile = process.env.OCR_CASES;
if (!casesFile) {
  throw new Error('OCR_CASES is not set: run the browser tests with `cargo xtask test`');
}
const cases: Case[] = JSON.parse(readFileSync(casesFile, 'utf8'));

// The config's Chromium flags, plus WebGPU.
test.use({
  launchOptions: {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--enable-unsafe-webgpu',
    ],
  },
});

// Software WebGPU on a busy 2-core machine: generous waits, never sleeps.
const RUN_TIMEOUT = 180_000;
test.describe.configure({ timeout: 300_000 });

/** The case's query with `backend` set to `backend`. */
function withBackend(c: Case, backend: string): string {
  const query = c.query.replace(/(^|&)backend=[^&]*/, '');
  return `${query}&backend=${backend}&prompt=${encodeURIComponent(c.prompt)}`;
}

async function openOcr(page: Page, query: string): Promise<void> {
  await page.goto(`/ocr/?${query}`);
  await waitForApp(page);
}

async function runOn(page: Page, image: string): Promise<void> {
  await page.getByTestId('image-input').setInputFiles(image);
  await page.getByTestId('run').click();
  const status = page.getByTestId('status');
  await expect(status).toHaveAttribute('data-state', /^(done|error)$/, { timeout: RUN_TIMEOUT });
  if ((await status.getAttribute('data-state')) === 'error') {
    const error = await page.getByTestId('error').textContent();
    throw new Error(`the run failed on the page: ${error}`);
  }
}

function tokenIds(attr: string | null): number[] {
  return attr ? attr.split(',').map(Number) : [];
}

/** Fails, saying why, when this Chromium offers no WebGPU adapter (in a worker, as ours). */
async function requireWebgpu(page: Page): Promise<void> {
  const found = await page.evaluate(async () => {
    // As the worker asks (smolvlm-gpu): an adapter, else the fallback adapter.
    const code = `
      (async () => {
        if (!('gpu' in navigator)) return 'navigator.gpu is missing';
        const a = (await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' }))
          ?? (await navigator.gpu.requestAdapter({ forceFallbackAdapter: true }));
        if (!a) return 'navigator.gpu.requestAdapter() gave no adapter, not even a fallback one';
        return 'ok: ' + (a.info ? a.info.vendor + ' ' + a.info.architecture + ' ' + a.info.description : '');
      })().then((r) => postMessage(r), (e) => postMessage('error: ' + e));`;
    const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
    const worker = new Worker(url);
    const answer = await new Promise<string>((resolve) => {
      worker.onmessage = (e) => resolve(String(e.data));
      worker.onerror = (e) => resolve(`the probe worker failed: ${e.message}`);
    });
    worker.terminate();
    URL.revokeObjectURL(url);
    return answer;
  });
  expect(
    found.startsWith('ok'),
    `WebGPU is not available in this headless Chromium (with --enable-unsafe-webgpu): ${found}`,
  ).toBe(true);
}

for (const c of cases) {
  test(`${c.name}: with backend=webgpu the page runs on WebGPU and gives the CLI's tokens and text`, async ({
    page,
  }) => {
    const errors = collectErrors(page);
    await openOcr(page, withBackend(c, 'webgpu'));
    await requireWebgpu(page);
    await runOn(page, c.image);

    await expect(page.getByTestId('backend')).toHaveText('webgpu');
    const output = page.getByTestId('output');
    expect(tokenIds(await output.getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
    await expect(output).toHaveText(c.cli.text);
    await expect(page.getByTestId('error')).toBeHidden();
    expect(errors).toEqual([]);
  });
}

test('backend=auto never takes the software adapter: it runs on the CPU', async ({ page }) => {
  const c = cases[0];
  await openOcr(page, withBackend(c, 'auto'));
  await requireWebgpu(page);
  await runOn(page, c.image);
  await expect(page.getByTestId('backend')).toHaveText('wasm');
  const output = page.getByTestId('output');
  expect(tokenIds(await output.getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
});
