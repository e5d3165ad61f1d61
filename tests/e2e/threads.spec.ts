// The OCR worker's builds (crates/worker/ocr-worker-loader.js): each gives the CLI's exact
// tokens; an isolated page runs the threaded relaxed-SIMD build on every core; a host
// that sends no isolation headers gets one thread and the page says why, unless the
// site's service worker (public/coi-sw.js) can isolate it.
import { expect, test, type Page } from '@playwright/test';
import { collectErrors } from './site';
import { cases, openOcr, runOn, tokenIds } from './ocr-cases';

const RUN_TIMEOUT = 120_000;
test.describe.configure({ timeout: 240_000 });

const plainOrigin = process.env.PLAIN_ORIGIN;

async function builtOn(page: Page): Promise<{ build: string; threads: number; why: string }> {
  const build = page.getByTestId('build');
  await expect(build).toHaveAttribute('data-build', /.+/, { timeout: 30_000 });
  return {
    build: (await build.getAttribute('data-build')) ?? '',
    threads: Number(await build.getAttribute('data-threads')),
    why: (await page.getByTestId('build-why').textContent()) ?? '',
  };
}

const forced: [string, string][] = [
  ['simd128', 'build=simd128'],
  ['relaxed-simd', 'build=relaxed-simd'],
  ['simd128-threads', 'build=simd128-threads&threads=2'],
  ['relaxed-simd-threads', 'build=relaxed-simd-threads&threads=2'],
];

for (const [build, param] of forced) {
  for (const c of cases) {
    test(`${c.name} on the ${build} build gives the CLI's tokens and text`, async ({ page }) => {
      const errors = collectErrors(page);
      await openOcr(page, `${c.query}&prompt=${encodeURIComponent(c.prompt)}&${param}`);
      await runOn(page, c.image, RUN_TIMEOUT);
      const ran = await builtOn(page);
      expect(ran.build).toBe(build);
      expect(ran.threads).toBe(build.endsWith('-threads') ? 2 : 1);
      const output = page.getByTestId('output');
      expect(tokenIds(await output.getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
      await expect(output).toHaveText(c.cli.text);
      await expect(page.getByTestId('backend')).toHaveText('wasm');
      expect(errors).toEqual([]);
    });
  }
}

test('an isolated page runs the threaded relaxed-SIMD build on every core', async ({ page }) => {
  const c = cases[0];
  await openOcr(page, `${c.query}&prompt=${encodeURIComponent(c.prompt)}`);
  expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const ran = await builtOn(page);
  expect(ran).toEqual({ build: cores > 1 ? 'relaxed-simd-threads' : 'relaxed-simd', threads: cores, why: '' });
  await expect(page.getByTestId('build')).toContainText(`${cores} thread`);
});

test('threads=1 runs one thread and says it was asked for', async ({ page }) => {
  const c = cases[0];
  await openOcr(page, `${c.query}&prompt=${encodeURIComponent(c.prompt)}&threads=1`);
  const ran = await builtOn(page);
  expect(ran.build).toBe('relaxed-simd');
  expect(ran.threads).toBe(1);
  expect(ran.why).toContain('threads=1 was asked for');
});

test.describe('a host that sends no isolation headers', () => {
  test.skip(!plainOrigin, 'PLAIN_ORIGIN is set by `cargo xtask test`');

  test.describe('without service workers', () => {
    test.use({ serviceWorkers: 'block' });
    test('runs one thread, says why, and still gives the CLI tokens', async ({ page }) => {
      const c = cases[0];
      await page.goto(`${plainOrigin}/ocr/?${c.query}&prompt=${encodeURIComponent(c.prompt)}`);
      await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true', { timeout: 15_000 });
      expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(false);
      const ran = await builtOn(page);
      expect(ran.build).toBe('relaxed-simd');
      expect(ran.threads).toBe(1);
      expect(ran.why).toContain('one thread: this page is not cross-origin isolated');
      await runOn(page, c.image, RUN_TIMEOUT);
      expect(tokenIds(await page.getByTestId('output').getAttribute('data-token-ids'))).toEqual(
        c.cli.generated_ids,
      );
    });
  });

  test('is isolated by the site’s service worker, and the page then runs threads', async ({ page }) => {
    const c = cases[0];
    await page.goto(`${plainOrigin}/ocr/?${c.query}&prompt=${encodeURIComponent(c.prompt)}`);
    // The page registers the worker and reloads itself once, isolated. A reload can land
    // while we ask, destroying the context we asked in: that answer is "not yet".
    const isolated = () => page.evaluate(() => self.crossOriginIsolated).catch(() => false);
    await expect.poll(isolated, { timeout: 30_000 }).toBe(true);
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true', { timeout: 15_000 });
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const ran = await builtOn(page);
    expect(ran.build).toBe(cores > 1 ? 'relaxed-simd-threads' : 'relaxed-simd');
    await runOn(page, c.image, RUN_TIMEOUT);
    expect(tokenIds(await page.getByTestId('output').getAttribute('data-token-ids'))).toEqual(
      c.cli.generated_ids,
    );
  });
});
