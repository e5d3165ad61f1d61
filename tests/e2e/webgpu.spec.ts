// The OCR page on WebGPU: Chromium with `--enable-unsafe-webgpu` (headless, it is
// SwiftShader, a software adapter), the tiny fixture models served at /models/, and the
// page asked for `backend=webgpu`. The model runs on our WGSL kernels in the worker and
// must give the CLI's greedy ids and text (xtask's `ocr.rs` passes them in OCR_CASES), as
// the CPU path in `ocr.spec.ts` does. Where this Chromium has no WebGPU at all, the tests
// fail and say so: they never skip.
import { expect, test, type Page } from '@playwright/test';
import { collectErrors } from './site';
import { CHROMIUM_ARGS } from '../chromium';
import { type Case, cases, openOcr, runOn as runWithin, tokenIds } from './ocr-cases';

// The config's Chromium flags, plus WebGPU.
test.use({
  launchOptions: {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'],
  },
});

// Software WebGPU on a busy 2-core machine: generous waits, never sleeps.
const RUN_TIMEOUT = 180_000;
// One retry: once in 24+ launches on this loaded machine, Chromium's GPU process gave no
// adapter at all. A WebGPU that is really missing or wrong still fails both tries.
test.describe.configure({ timeout: 300_000, retries: 1 });

const runOn = (page: Page, image: string) => runWithin(page, image, RUN_TIMEOUT);

/** The case's query with `backend` set to `backend`. */
function withBackend(c: Case, backend: string): string {
  const query = c.query.replace(/(^|&)backend=[^&]*/, '');
  return `${query}&backend=${backend}&prompt=${encodeURIComponent(c.prompt)}`;
}

/** Fails, saying why, when this Chromium offers no WebGPU adapter (in a worker, as ours). */
async function requireWebgpu(page: Page): Promise<void> {
  // The probe is a blob: worker, which the site's own policy (worker-src 'self') refuses:
  // it runs on a blank page of the same origin that carries no policy.
  const probe = '/__webgpu-probe.html';
  await page.route(`**${probe}`, (route) =>
    route.fulfill({
      status: 200,
      contentType: 'text/html',
      // No favicon request (its 404 would be a console error).
      body: '<!DOCTYPE html><link rel="icon" href="data:,"><title>probe</title>',
    }),
  );
  await page.goto(probe);
  await page.unroute(`**${probe}`);
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
    await requireWebgpu(page);
    const errors = collectErrors(page);
    await openOcr(page, withBackend(c, 'webgpu'));
    await runOn(page, c.image);

    await expect(page.getByTestId('backend')).toHaveText('webgpu');
    const output = page.getByTestId('output');
    expect(tokenIds(await output.getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
    await expect(output).toHaveText(c.cli.text);
    await expect(page.getByTestId('error')).toBeHidden();
    await expect(page.getByTestId('notice')).toBeHidden();
    expect(errors).toEqual([]);
  });
}

/**
 * The test hook of the GPU hand-over, installed by the test, not a part of the page: on the
 * OCR worker's global scope, `smolvlmTestLoseGpuAfter = N` makes each run call
 * `GPUDevice.destroy()` once N tokens exist, a real loss as WebGPU's own tests make one.
 */
async function loseGpuAfter(page: Page, n: number): Promise<void> {
  const isOcrWorker = (url: string) => url.includes('ocr-worker-loader.js');
  await expect
    .poll(() => page.workers().filter((w) => isOcrWorker(w.url())).length, {
      message: 'the OCR worker starts after hydration',
    })
    .toBeGreaterThan(0);
  for (const w of page.workers().filter((w) => isOcrWorker(w.url()))) {
    await w.evaluate((k) => {
      (self as unknown as { smolvlmTestLoseGpuAfter: number }).smolvlmTestLoseGpuAfter = k;
    }, n);
  }
}

// The picture is tiled, so the CPU must encode every frame again before it carries on from
// the GPU's tokens.
test('a GPU lost in the middle of a run: the CPU finishes it with the same tokens, the page says so, and the next run works', async ({
  page,
}) => {
  const c = cases.find((x) => x.query.includes('tiles=all')) ?? cases[0];
  const lostAfter = 4;
  expect(c.cli.generated_ids.length).toBeGreaterThan(lostAfter);
  await requireWebgpu(page);
  const errors = collectErrors(page);
  await openOcr(page, withBackend(c, 'webgpu'));
  await loseGpuAfter(page, lostAfter);
  await runOn(page, c.image);

  const output = page.getByTestId('output');
  const notice = page.getByTestId('notice');
  expect(tokenIds(await output.getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
  await expect(output).toHaveText(c.cli.text);
  await expect(page.getByTestId('backend')).toHaveText('wasm');
  await expect(notice).toBeVisible();
  await expect(notice).toContainText(`The GPU was lost after ${lostAfter} tokens`);
  await expect(notice).toContainText('CPU');
  await expect(page.getByTestId('error')).toBeHidden();

  // The next run goes to the CPU at once, and says why.
  await runOn(page, c.image);
  expect(tokenIds(await output.getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
  await expect(output).toHaveText(c.cli.text);
  await expect(page.getByTestId('backend')).toHaveText('wasm');
  await expect(notice).toContainText('The GPU was lost in an earlier run');
  await expect(page.getByTestId('error')).toBeHidden();
  expect(errors).toEqual([]);
});

test('backend=auto never takes the software adapter: it runs on the CPU', async ({ page }) => {
  const c = cases[0];
  await requireWebgpu(page);
  await openOcr(page, withBackend(c, 'auto'));
  await runOn(page, c.image);
  await expect(page.getByTestId('backend')).toHaveText('wasm');
  const output = page.getByTestId('output');
  expect(tokenIds(await output.getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
});
