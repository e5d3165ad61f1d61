// PDFs on the OCR page: the worker renders the chosen pages one at a time and the page reads
// them one run each. `cargo xtask test` runs `smolvlm convert --json` on the same PDFs first
// (documents.json, beside OCR_CASES): every page must give the CLI's ids, and the DocTags
// fixture's answer must become the CLI's Markdown, with its blocks' boxes over the page.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect, test, type BrowserContext, type Locator, type Page, type Request } from '@playwright/test';
import { collectErrors } from './site';
import { openOcr, tokenIds } from './ocr-cases';

const RUN_TIMEOUT = 180_000;
test.describe.configure({ timeout: 300_000 });

interface DocumentCase {
  name: string;
  query: string;
  /** Where xtask serves the case's model folder, e.g. `/models/tiny-smoldocling/`. */
  model_dir: string;
  pdf: string;
  cli: {
    pages: { page: number; prompt_ids: number[]; generated_ids: number[]; doctags: string }[];
    document: string;
  };
}

const documents: DocumentCase[] = JSON.parse(
  readFileSync(join(dirname(process.env.OCR_CASES!), 'documents.json'), 'utf8'),
);
const byName = (name: string) => documents.find((d) => d.name === name)!;

async function readPdf(page: Page, pdf: string): Promise<void> {
  await page.getByTestId('image-input').setInputFiles(pdf);
  await expect(page.getByTestId('status')).toContainText('PDF ready', { timeout: RUN_TIMEOUT });
  await page.getByTestId('run').click();
}

async function waitDone(page: Page): Promise<void> {
  try {
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'done', { timeout: RUN_TIMEOUT });
  } catch (e) {
    const shown = await page.getByTestId('error').textContent().catch(() => null);
    throw new Error(`${(e as Error).message}\nthe page's error: ${shown ?? '(none)'}`);
  }
}

/** Every request the context makes from now on. */
function recordRequests(context: BrowserContext): Request[] {
  const requests: Request[] = [];
  context.on('request', (r) => requests.push(r));
  return requests;
}

/** The first page's section, once its ids and DocTags are checked against the CLI's. */
async function expectFirstPageAsCli(page: Page, c: DocumentCase): Promise<Locator> {
  const section = page.getByTestId('doc-page').first();
  const expected = c.cli.pages[0];
  expect(tokenIds(await section.getAttribute('data-token-ids'))).toEqual(expected.generated_ids);
  await expect(section).toHaveAttribute('data-doctags', expected.doctags);
  return section;
}

/** Privacy: every request is a GET or HEAD without a body, and none carries any of the
 * document's bytes (three 48-byte runs of it) in its URL. */
function expectNoneCarries(requests: Request[], file: string): void {
  const bytes = readFileSync(file);
  const at = (f: number) => Math.floor(bytes.length * f);
  const probes = [0.25, 0.5, 0.75].map((f) => bytes.subarray(at(f), at(f) + 48));
  for (const r of requests) {
    const url = new URL(r.url());
    if (url.protocol === 'blob:' || url.protocol === 'data:') continue;
    expect(['GET', 'HEAD'], r.url()).toContain(r.method());
    expect(r.postDataBuffer(), r.url()).toBeNull();
    for (const p of probes) expect(Buffer.from(r.url()).includes(p), r.url()).toBe(false);
  }
}

test('a 3-page PDF gives the CLI ids page by page, says which page it reads, and sends none of it', async ({
  page,
  context,
}) => {
  const c = byName('three-pages-random');
  const errors = collectErrors(page);
  const requests = recordRequests(context);
  const statuses: string[] = [];
  await page.exposeFunction('noteStatus', (s: string) => statuses.push(s));
  await openOcr(page, c.query);
  await expect(page.getByTestId('pages')).toHaveValue('3,1-2');
  await page.evaluate(() => {
    const status = document.querySelector('[data-testid="status"]')!;
    new MutationObserver(() => (window as any).noteStatus(status.textContent)).observe(status, {
      childList: true,
      subtree: true,
      characterData: true,
    });
  });
  await readPdf(page, c.pdf);
  await waitDone(page);

  const pages = page.getByTestId('doc-page');
  await expect(pages).toHaveCount(3);
  for (const [i, expected] of c.cli.pages.entries()) {
    const section = pages.nth(i);
    await expect(section).toHaveAttribute('data-page', String(expected.page));
    expect(tokenIds(await section.getAttribute('data-token-ids')), `page ${expected.page}`).toEqual(
      expected.generated_ids,
    );
    // Each page is shown as the model saw it.
    await expect(section.locator('img')).toHaveAttribute('src', /^blob:/);
  }
  // Progress named each page in turn.
  for (const where of ['Page 3 (1 of 3)', 'Page 1 (2 of 3)', 'Page 2 (3 of 3)']) {
    expect(statuses.some((s) => s.startsWith(where)), `${where} in ${JSON.stringify(statuses)}`).toBe(true);
  }
  await expect(page.getByTestId('status')).toHaveText('Done: 3 pages.');

  expectNoneCarries(requests, c.pdf);
  expect(errors).toEqual([]);
});

test('Stop between pages reads no further page, and Run reads them again', async ({ page }) => {
  const c = byName('three-pages-random');
  await openOcr(page, c.query);
  // The page clicks Stop itself as soon as the first page is done (a click from the test
  // could come after the second page began, or ended).
  await page.evaluate(() => {
    const observer = new MutationObserver(() => {
      const first = document.querySelector('[data-testid="doc-page"]');
      if (first?.getAttribute('data-done') === 'true') {
        observer.disconnect();
        (document.querySelector('[data-testid="stop"]') as HTMLButtonElement).click();
      }
    });
    // A page's section is drawn anew as its answer grows: watch the tree, not one node.
    observer.observe(document.body, { attributes: true, childList: true, subtree: true });
  });
  await readPdf(page, c.pdf);
  const status = page.getByTestId('status');
  await expect(status).toHaveAttribute('data-state', 'stopped', { timeout: RUN_TIMEOUT });
  await page.waitForTimeout(1000);
  const pages = page.getByTestId('doc-page');
  // The first page is whole; the second was stopped before its end, the third never begun.
  await expect(pages.nth(0)).toHaveAttribute('data-done', 'true');
  await expect(pages.nth(2)).toHaveAttribute('data-done', 'false');
  await expect(pages.nth(2)).toHaveAttribute('data-doctags', '');
  await expect(status).toHaveAttribute('data-state', 'stopped');
  await page.getByTestId('run').click();
  await waitDone(page);
  for (const [i, expected] of c.cli.pages.entries()) {
    expect(tokenIds(await pages.nth(i).getAttribute('data-token-ids'))).toEqual(expected.generated_ids);
  }
});

test('a DocTags model answers with boxes over the page and the CLI Markdown, to copy and download', async ({
  page,
  context,
}) => {
  const c = byName('docling');
  const errors = collectErrors(page);
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await openOcr(page, c.query);
  await readPdf(page, c.pdf);
  await waitDone(page);
  const section = await expectFirstPageAsCli(page, c);
  // Once the model is known as a DocTags model, its instructions replace the question box.
  await expect(page.getByTestId('doc-task')).toBeVisible();
  await expect(page.getByTestId('prompt')).toBeHidden();

  // One box per located block, placed on the page; hovering a block lights its box.
  const boxes = section.getByTestId('doc-box');
  await expect(boxes).toHaveCount(3);
  await expect(boxes.first()).toHaveAttribute('style', 'left:8.0%;top:6.0%;width:84.0%;height:6.0%');
  await expect(boxes.first()).toHaveAttribute('data-kind', 'title');
  await section.getByTestId('doc-block').nth(2).hover();
  await expect(boxes.nth(2)).toHaveClass(/lit/);
  await expect(boxes.first()).not.toHaveClass(/lit/);
  await expect(section.getByTestId('doc-block').nth(2).locator('table')).toBeVisible();

  // Copy gives the CLI's Markdown; the downloads are the same document.
  await page.getByTestId('doc-copy').click();
  await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(c.cli.document);
  const [md] = await Promise.all([page.waitForEvent('download'), page.getByTestId('doc-download-md').click()]);
  expect(md.suggestedFilename()).toBe('text_table.md');
  expect(readFileSync((await md.path())!, 'utf8')).toBe(c.cli.document);
  const [json] = await Promise.all([page.waitForEvent('download'), page.getByTestId('doc-download-json').click()]);
  const blocks = JSON.parse(readFileSync((await json.path())!, 'utf8')).blocks;
  expect(blocks.map((b: { kind: string }) => b.kind)).toEqual(['title', 'text', 'table']);
  expect(blocks.every((b: { page: number }) => b.page === 1)).toBe(true);
  const [html] = await Promise.all([page.waitForEvent('download'), page.getByTestId('doc-download-html').click()]);
  expect(readFileSync((await html.path())!, 'utf8')).toContain('<table');
  expect(errors).toEqual([]);
});

// The menu's SmolDocling entry is its Hub folder. The Hub cannot be reached from the tests:
// its URL is answered from the tiny-smoldocling fixture (SmolDocling's layout), so this
// proves the entry's address and that the worker loads a Hub folder from the Hub's origin.
const SMOLDOCLING_HUB = 'https://huggingface.co/docling-project/SmolDocling-256M-preview/resolve/main/';

test('SmolDocling from the menu loads its Hub folder and reads a page as the CLI does', async ({
  page,
  context,
}) => {
  const c = byName('smoldocling-menu');
  const errors = collectErrors(page);
  const requests = recordRequests(context);
  const asked: string[] = [];
  await context.route(`${SMOLDOCLING_HUB}**`, async (route) => {
    const r = route.request();
    const name = r.url().slice(SMOLDOCLING_HUB.length);
    asked.push(`${r.method()} ${name}`);
    // The same request (method, Range) to the fixture's folder on this site, answered as
    // the Hub answers: with the CORS header a cross-origin download needs.
    const local = await route.fetch({ url: new URL(`${c.model_dir}${name}`, page.url()).href });
    await route.fulfill({ response: local, headers: { ...local.headers(), 'access-control-allow-origin': '*' } });
  });
  await openOcr(page, c.query);
  // The menu is inside the model's <details>, closed at first.
  await page.locator('details.ocr-model > summary').click();
  await page.getByTestId('model-menu').selectOption('smoldocling-256m-bf16');
  await expect(page.getByTestId('model-need')).toContainText('Downloads about 513 MB once');
  // A DocTags model from the menu: its instructions replace the question box before any run.
  await expect(page.getByTestId('doc-task')).toBeVisible();
  await expect(page.getByTestId('prompt')).toBeHidden();
  expect(asked).toEqual([]);

  await readPdf(page, c.pdf);
  await waitDone(page);
  await expectFirstPageAsCli(page, c);
  // The folder came from the Hub's address: its config, tokenizer and weights.
  for (const file of ['config.json', 'tokenizer.json', 'model.safetensors']) {
    expect(asked.some((a) => a.endsWith(` ${file}`)), `${file} in ${JSON.stringify(asked)}`).toBe(true);
  }
  // Nothing else left this site, and nothing carried the document.
  const site = new URL(page.url()).origin;
  for (const r of requests) {
    if (!/^(blob|data):/.test(r.url())) {
      expect(new URL(r.url()).origin === site || r.url().startsWith(SMOLDOCLING_HUB), r.url()).toBe(true);
    }
  }
  expectNoneCarries(requests, c.pdf);
  expect(errors).toEqual([]);
});

test('a PDF that is cut short or password-protected is a clear error', async ({ page }) => {
  const c = byName('three-pages-random');
  await openOcr(page, c.query);
  for (const [file, words] of [
    ['truncated.pdf', 'cut short'],
    ['encrypted.pdf', 'password-protected'],
  ]) {
    await page.getByTestId('image-input').setInputFiles(join(dirname(c.pdf), file));
    await expect(page.getByTestId('error')).toContainText(words, { timeout: RUN_TIMEOUT });
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'error');
  }
});
