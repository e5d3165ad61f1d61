// The private OCR page in the browser, with the tiny fixture models served same-origin at
// /models/ (xtask's test mounts). `cargo xtask test` runs `smolvlm generate --json` on the
// same model, picture and prompt first and passes its answers in OCR_CASES: the browser
// runs the same model code compiled to wasm32, so ids and text must be equal.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { expect, test, type BrowserContext, type Page, type Request } from '@playwright/test';
import { collectErrors, waitForApp } from './site';
import { cases, openOcr, pickPicture, runOn as runWithin, tokenIds } from './ocr-cases';

// Loading and running a model on a busy 2-core machine: generous waits, never sleeps.
const RUN_TIMEOUT = 120_000;
test.describe.configure({ timeout: 240_000 });

const runOn = (page: Page, image: string) => runWithin(page, image, RUN_TIMEOUT);

/** Every request of the context (page and its worker), from now on. */
function recordRequests(context: BrowserContext): Request[] {
  const requests: Request[] = [];
  context.on('request', (r) => requests.push(r));
  return requests;
}

/** Whether any byte run of `needle` (a slice of the picture) occurs in `body`. */
function carries(body: Buffer | null, picture: Buffer): boolean {
  if (!body || body.length === 0) return false;
  const probe = picture.subarray(Math.floor(picture.length / 2), Math.floor(picture.length / 2) + 64);
  return body.includes(probe) || body.includes(Buffer.from(picture.toString('base64').slice(100, 164)));
}

for (const c of cases) {
  test(`${c.name}: the browser gives the CLI's tokens and text, caches the model, and keeps the picture`, async ({
    page,
    context,
    baseURL,
  }) => {
    const errors = collectErrors(page);
    const requests = recordRequests(context);
    const query = `${c.query}&prompt=${encodeURIComponent(c.prompt)}`;
    await openOcr(page, query);
    await expect(page.getByTestId('prompt')).toHaveValue(c.prompt);
    await runOn(page, c.image);

    const output = page.getByTestId('output');
    expect(tokenIds(await output.getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
    await expect(output).toHaveText(c.cli.text);
    await expect(page.getByTestId('backend')).toHaveText('wasm');
    await expect(page.getByTestId('error')).toBeHidden();

    // Privacy: only this origin's app files and model files were fetched, no request
    // carried a body, and none carries the picture's bytes.
    const picture = readFileSync(c.image);
    const origin = new URL(baseURL!).origin;
    const isModel = (r: Request) => new URL(r.url()).pathname.startsWith('/models/');
    expect(requests.some(isModel)).toBe(true);
    for (const r of requests) {
      const url = new URL(r.url());
      if (url.protocol === 'blob:' || url.protocol === 'data:') continue;
      expect(url.origin, r.url()).toBe(origin);
      // GET, or HEAD (the worker asks a model file's size before a ranged download).
      expect(['GET', 'HEAD'], r.url()).toContain(r.method());
      expect(r.postDataBuffer(), r.url()).toBeNull();
      expect(carries(Buffer.from(r.url()), picture), r.url()).toBe(false);
      const appFile = /\.(html|js|wasm|css|svg|png|json|xml|txt)$|\/$/.test(url.pathname);
      expect(appFile || url.pathname.startsWith('/models/'), r.url()).toBe(true);
    }

    // A second visit loads the model from this browser's storage: no model request.
    const before = requests.length;
    await openOcr(page, query);
    await runOn(page, c.image);
    expect(tokenIds(await output.getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
    const again = requests.slice(before).filter(isModel).map((r) => r.url());
    expect(again).toEqual([]);
    expect(errors).toEqual([]);
  });
}

test('Stop ends the generation at once, and the page runs again afterwards', async ({ page }) => {
  const c = cases.find((x) => x.name === 'hub-folder-fast') ?? cases[0];
  // As many tokens as the tiny model's context (1024) allows, none of them allowed to stop.
  const n = 1024 - c.cli.prompt_ids.length - 1;
  const query = c.query
    .replace(/max_new_tokens=\d+/, `max_new_tokens=${n}`)
    .replace(/min_new_tokens=\d+/, `min_new_tokens=${n}`);
  await openOcr(page, `${query}&prompt=${encodeURIComponent(c.prompt)}`);
  await pickPicture(page, c.image);
  // The tiny model makes hundreds of tokens a second: a click from the test would come
  // too late, so the page clicks Stop itself as soon as the first tokens are shown.
  await page.evaluate(() => {
    const output = document.querySelector('[data-testid="output"]')!;
    const observer = new MutationObserver(() => {
      if ((output.getAttribute('data-token-ids') ?? '').split(',').length >= 3) {
        observer.disconnect();
        (document.querySelector('[data-testid="stop"]') as HTMLButtonElement).click();
      }
    });
    observer.observe(output, { attributes: true, attributeFilter: ['data-token-ids'] });
  });
  await page.getByTestId('run').click();
  const status = page.getByTestId('status');
  await expect(status).toHaveAttribute('data-state', 'stopped', { timeout: RUN_TIMEOUT });
  const output = page.getByTestId('output');
  // Nothing more arrives after the stop.
  const stoppedAt = tokenIds(await output.getAttribute('data-token-ids')).length;
  expect(stoppedAt).toBeLessThan(n);
  await expect(page.getByTestId('run')).toBeEnabled();
  await page.waitForTimeout(500);
  expect(tokenIds(await output.getAttribute('data-token-ids')).length).toBe(stoppedAt);
  // And it runs again, to the end.
  await page.getByTestId('run').click();
  await expect(status).toHaveAttribute('data-state', 'done', { timeout: RUN_TIMEOUT });
  expect(tokenIds(await output.getAttribute('data-token-ids')).length).toBe(n);
});

test('a file that is not a picture shows a clear error, and a picture after it runs', async ({ page }) => {
  const c = cases[0];
  await openOcr(page, `${c.query}&prompt=${encodeURIComponent(c.prompt)}`);
  await page.getByTestId('image-input').setInputFiles({
    name: 'holiday.png',
    mimeType: 'image/png',
    buffer: Buffer.from('this is not a PNG at all, just some text'),
  });
  const error = page.getByTestId('error');
  await expect(error).toBeVisible({ timeout: RUN_TIMEOUT });
  await expect(error).toContainText(/picture|image/i);
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'error');
  await runOn(page, c.image);
  await expect(error).toBeHidden();
  expect(tokenIds(await page.getByTestId('output').getAttribute('data-token-ids'))).toEqual(
    c.cli.generated_ids,
  );
});

test('a truncated model file shows a clear error instead of crashing', async ({ page }) => {
  const c = cases.find((x) => x.query.includes('.gguf')) ?? cases[0];
  const query = c.query.replace(/\/models\/gguf\//g, '/models/broken/');
  await openOcr(page, `${query}&prompt=${encodeURIComponent(c.prompt)}`);
  await pickPicture(page, c.image);
  await page.getByTestId('run').click();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'error', {
    timeout: RUN_TIMEOUT,
  });
  await expect(page.getByTestId('error')).toContainText(/model|gguf|file/i);
});

test('an unreachable model URL says so', async ({ page }) => {
  const c = cases[0];
  await openOcr(page, `model=/models/nowhere/&prompt=${encodeURIComponent(c.prompt)}&backend=wasm`);
  await pickPicture(page, c.image);
  await page.getByTestId('run').click();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'error', {
    timeout: RUN_TIMEOUT,
  });
  await expect(page.getByTestId('error')).toContainText(/404|not found|could not/i);
});

/** CRC-32 of PNG chunks (Node 20's zlib has none). */
function crc32(bytes: Buffer): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

test('a picture announcing too many pixels is refused, naming the limit', async ({ page }) => {
  const c = cases[0];
  await openOcr(page, `${c.query}&prompt=${encodeURIComponent(c.prompt)}`);
  // A PNG signature and a 20000 x 20000 header, no pixels: refused before any decoding.
  const ihdr = Buffer.concat([Buffer.from('IHDR'), Buffer.alloc(13)]);
  ihdr.writeUInt32BE(20_000, 4);
  ihdr.writeUInt32BE(20_000, 8);
  ihdr.set([8, 2, 0, 0, 0], 12);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(13);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(ihdr));
  const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), len, ihdr, crc]);
  await page.getByTestId('image-input').setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: png });
  const error = page.getByTestId('error');
  await expect(error).toBeVisible({ timeout: RUN_TIMEOUT });
  await expect(error).toContainText(/too (large|big)|pixels/i);
  await expect(error).toContainText(/50[ ,.]?000[ ,.]?000|50 million/);
});

test('a model too large for the browser is refused before anything is downloaded', async ({ page, context }) => {
  const requests = recordRequests(context);
  const c = cases[0];
  // xtask serves two sparse files of 3 GB each at /models/huge/: only their sizes are read.
  await openOcr(
    page,
    `model=/models/huge/huge.gguf&mmproj=/models/huge/mmproj-huge.gguf&backend=wasm&prompt=${encodeURIComponent(c.prompt)}`,
  );
  await pickPicture(page, c.image);
  await page.getByTestId('run').click();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'error', {
    timeout: RUN_TIMEOUT,
  });
  await expect(page.getByTestId('error')).toContainText(/memory/i);
  const gets = requests.filter((r) => new URL(r.url()).pathname.startsWith('/models/huge/') && r.method() === 'GET');
  expect(gets.map((r) => r.url())).toEqual([]);
});

test('the widget runs inside an iframe on another site and reports its height', async ({ page, baseURL }) => {
  const c = cases[0];
  const src = `${baseURL}/embed/ocr/?${c.query}&prompt=${encodeURIComponent(c.prompt)}`;
  // A page of another origin (a second port) that pastes the widget, as a blog would.
  const host = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!DOCTYPE html><html><body>
<script>window.heights = []; addEventListener('message', (e) => { if (e.data && e.data.type === 'embed-height') heights.push({ origin: e.origin, height: e.data.height }); });</script>
<iframe id="ocr" src="${src}" width="480" height="600" style="border:0"></iframe></body></html>`);
  });
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
  try {
    await page.goto(`http://127.0.0.1:${(host.address() as AddressInfo).port}/`);
    const frame = page.frameLocator('#ocr');
    await expect(frame.locator('html')).toHaveAttribute('data-hydrated', 'true', { timeout: 15_000 });
    await expect.poll(() => page.evaluate(() => (window as any).heights.length)).toBeGreaterThan(0);
    const first = await page.evaluate(() => (window as any).heights[0]);
    expect(first.origin).toBe(new URL(baseURL!).origin);
    expect(first.height).toBeGreaterThan(100);
    await pickPicture(frame, c.image);
    await frame.getByTestId('run').click();
    await expect(frame.getByTestId('status')).toHaveAttribute('data-state', 'done', { timeout: RUN_TIMEOUT });
    expect(tokenIds(await frame.getByTestId('output').getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
    // The host page is not isolated. The widget is isolated by its own
    // Document-Isolation-Policy where the browser has it (threads), else runs on one
    // thread and says why; either way it ran a build and told the page which.
    const build = frame.getByTestId('build');
    const name = (await build.getAttribute('data-build')) ?? '';
    const isolated = await frame.locator('html').evaluate(() => self.crossOriginIsolated);
    const cores = await frame.locator('html').evaluate(() => navigator.hardwareConcurrency);
    expect(name).toBe(isolated && cores > 1 ? 'relaxed-simd-threads' : 'relaxed-simd');
    if (!isolated) await expect(frame.getByTestId('build-why')).toContainText('not cross-origin isolated');
    test.info().annotations.push({ type: 'widget build', description: `${name} (isolated: ${isolated})` });
  } finally {
    await new Promise((resolve) => host.close(resolve));
  }
});

test('a sample picture and a camera photo each run, and neither is uploaded', async ({ page, context, baseURL }) => {
  const requests = recordRequests(context);
  const c = cases.find((x) => x.name === 'hub-folder-fast') ?? cases[0];
  await openOcr(page, `${c.query}&prompt=${encodeURIComponent(c.prompt)}`);
  const status = page.getByTestId('status');
  const ids = () => page.getByTestId('output').getAttribute('data-token-ids');

  await page.getByRole('button', { name: 'Receipt' }).click();
  await expect(page.getByRole('img', { name: /receipt\.png/ })).toBeVisible();
  await page.getByTestId('run').click();
  await expect(status).toHaveAttribute('data-state', 'done', { timeout: RUN_TIMEOUT });
  expect(tokenIds(await ids())).toHaveLength(c.cli.generated_ids.length);

  // Chromium's fake camera (--use-fake-device-for-media-stream) shows a test pattern.
  await page.getByRole('button', { name: 'Use the camera' }).click();
  await expect(page.locator('video.ocr-camera')).toBeVisible();
  await expect
    .poll(() => page.locator('video.ocr-camera').evaluate((v: HTMLVideoElement) => v.videoWidth), { timeout: 30_000 })
    .toBeGreaterThan(0);
  await page.getByRole('button', { name: 'Take the picture' }).click();
  await expect(page.locator('figure.ocr-preview figcaption')).toContainText(/\d+ × \d+ px/);
  await page.getByTestId('run').click();
  await expect(status).toHaveAttribute('data-state', 'done', { timeout: RUN_TIMEOUT });
  expect(tokenIds(await ids())).toHaveLength(c.cli.generated_ids.length);

  // The sample is one of the site's files; nothing went out but GETs and HEADs of this origin.
  const origin = new URL(baseURL!).origin;
  for (const r of requests) {
    const url = new URL(r.url());
    if (url.protocol === 'blob:' || url.protocol === 'data:') continue;
    expect(url.origin, r.url()).toBe(origin);
    expect(['GET', 'HEAD'], r.url()).toContain(r.method());
    expect(r.postDataBuffer(), r.url()).toBeNull();
  }
});

test('a worker that crashes is restarted, and the page runs again', async ({ page }) => {
  const c = cases[0];
  // The first copy of the worker's module the browser gets is broken: the worker dies at
  // start, as it would on a trap. The page must say so, start a fresh worker, and work.
  let served = 0;
  await page.route('**/ocr-worker*_bg.wasm', async (route) => {
    if (served++ === 0) {
      await route.fulfill({ status: 200, contentType: 'application/wasm', body: Buffer.from('not a wasm module') });
    } else {
      await route.continue();
    }
  });
  await openOcr(page, `${c.query}&prompt=${encodeURIComponent(c.prompt)}`);
  const error = page.getByTestId('error');
  await expect(error).toContainText(/stopped unexpectedly|restarted/i, { timeout: RUN_TIMEOUT });
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'error');
  await runOn(page, c.image);
  await expect(error).toBeHidden();
  expect(served).toBeGreaterThanOrEqual(2);
  expect(tokenIds(await page.getByTestId('output').getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
});

test('the kiosk reads from the camera again and again', async ({ page }) => {
  const c = cases.find((x) => x.name === 'hub-folder-fast') ?? cases[0];
  await page.goto(`/kiosk/?${c.query}&prompt=${encodeURIComponent(c.prompt)}`);
  await waitForApp(page);
  // Count the readings that end, as a visitor at the stand would see them come.
  await page.evaluate(() => {
    const status = document.querySelector('[data-testid="status"]')!;
    (window as any).readings = 0;
    new MutationObserver(() => {
      if (status.getAttribute('data-state') === 'done') (window as any).readings++;
    }).observe(status, { attributes: true, attributeFilter: ['data-state'] });
  });
  await page.getByRole('button', { name: 'Start: full screen and camera' }).click();
  await expect.poll(() => page.evaluate(() => (window as any).readings), { timeout: RUN_TIMEOUT }).toBeGreaterThanOrEqual(2);
  await expect(page.locator('figure.ocr-preview figcaption')).toContainText('camera.png');
  expect(tokenIds(await page.getByTestId('output').getAttribute('data-token-ids'))).toHaveLength(c.cli.generated_ids.length);
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(page.getByRole('button', { name: 'Start: full screen and camera' })).toBeEnabled();
});

test('a download cut off halfway resumes from where it stopped (Range)', async ({ page }) => {
  const c = cases.find((x) => x.query.includes('.gguf')) ?? cases[0];
  const file = c.query.match(/model=([^&]+)/)![1];
  const whole = readFileSync(c.model_file);
  const half = Math.floor(whole.length / 2);
  const ranges: (string | null)[] = [];
  await page.route(`**${file}`, async (route) => {
    const request = route.request();
    if (request.method() !== 'GET') return route.continue();
    ranges.push(await request.headerValue('range'));
    if (ranges.length === 1) {
      // The connection drops after half the file: the server said how big it is, and
      // only half arrived.
      return route.fulfill({
        status: 206,
        headers: { 'content-range': `bytes 0-${half - 1}/${whole.length}`, 'content-type': 'application/octet-stream' },
        body: whole.subarray(0, half),
      });
    }
    return route.continue();
  });
  await openOcr(page, `${c.query}&prompt=${encodeURIComponent(c.prompt)}`);
  await pickPicture(page, c.image);
  await page.getByTestId('run').click();
  const status = page.getByTestId('status');
  await expect(status).toHaveAttribute('data-state', 'error', { timeout: RUN_TIMEOUT });
  await expect(page.getByTestId('error')).toContainText(/resume/i);
  await page.getByTestId('run').click();
  await expect(status).toHaveAttribute('data-state', 'done', { timeout: RUN_TIMEOUT });
  expect(ranges).toEqual([null, `bytes=${half}-`]);
  expect(tokenIds(await page.getByTestId('output').getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
});

test('a model on another site is downloaded only after the visitor says yes', async ({ page, context }) => {
  const requests = recordRequests(context);
  const c = cases[0];
  // A host that never answers: what matters is whether the page asks it anything.
  const foreign = 'http://models.invalid/smolvlm/';
  await openOcr(page, `model=${encodeURIComponent(foreign)}&backend=wasm&prompt=${encodeURIComponent(c.prompt)}`);
  await page.getByTestId('image-input').setInputFiles(c.image);
  const asked = () => requests.filter((r) => new URL(r.url()).host === 'models.invalid').map((r) => r.url());
  const consent = page.getByTestId('consent');
  const status = page.getByTestId('status');
  // As a person would: Run once the picture is checked (its answer sets the status line).
  await expect(status).toContainText('Picture ready', { timeout: RUN_TIMEOUT });

  await page.getByTestId('run').click();
  await expect(consent).toBeVisible();
  await expect(page.getByTestId('consent-host')).toHaveText('models.invalid');
  await expect(status).toContainText('models.invalid');
  expect(asked()).toEqual([]);
  // No: the question goes, nothing was fetched.
  await page.getByTestId('consent-cancel').click();
  await expect(consent).toBeHidden();
  await expect(status).toContainText('Nothing was downloaded');
  expect(asked()).toEqual([]);
  // Yes: the download starts (and fails: that host does not exist).
  await page.getByTestId('run').click();
  await page.getByTestId('consent-accept').click();
  await expect(consent).toBeHidden();
  await expect(status).toHaveAttribute('data-state', 'error', { timeout: RUN_TIMEOUT });
  expect(asked().length).toBeGreaterThan(0);
  expect(asked()[0].startsWith(foreign)).toBe(true);
});

test('a picture file over the size limit is refused before it is read', async ({ page }) => {
  const c = cases[0];
  await openOcr(page, `${c.query}&prompt=${encodeURIComponent(c.prompt)}`);
  // 257 MiB of zeros (a sparse allocation in the browser), given to the file input as a
  // picker would.
  await page.getByTestId('image-input').evaluate((input: HTMLInputElement) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(257 * 1024 * 1024)], 'huge-scan.png', { type: 'image/png' }));
    input.files = dt.files;
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
  const error = page.getByTestId('error');
  await expect(error).toBeVisible({ timeout: RUN_TIMEOUT });
  await expect(error).toContainText('huge-scan.png');
  await expect(error).toContainText(/up to 268 MB/);
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'error');
  // The picture that follows runs.
  await runOn(page, c.image);
});

test('an optional file refused (403) is asked for again on the next visit; one not found (404) is not', async ({
  page,
  context,
}) => {
  const c = cases.find((x) => x.name === 'hub-folder-fast') ?? cases[0];
  const requests = recordRequests(context);
  const query = `${c.query}&prompt=${encodeURIComponent(c.prompt)}`;
  // tiny-split has no chat_template.jinja: the server answers 404. First, a refusal.
  const optional = '**/chat_template.jinja';
  await page.route(optional, (route) => route.fulfill({ status: 403, body: 'Forbidden' }));
  const asks = () => requests.filter((r) => r.url().endsWith('/chat_template.jinja')).length;
  await openOcr(page, query);
  await runOn(page, c.image);
  expect(asks()).toBe(1);
  // Next visit: asked again (the server now says 404, which is remembered).
  await page.unroute(optional);
  await openOcr(page, query);
  await runOn(page, c.image);
  expect(asks()).toBe(2);
  // And the visit after that does not ask.
  await openOcr(page, query);
  await runOn(page, c.image);
  expect(asks()).toBe(2);
  expect(tokenIds(await page.getByTestId('output').getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
});

test('a resumed download continues only the same version of the file, else starts over', async ({ page }) => {
  const c = cases.find((x) => x.query.includes('.gguf')) ?? cases[0];
  const file = c.query.match(/model=([^&]+)/)![1];
  const whole = readFileSync(c.model_file);
  const half = Math.floor(whole.length / 2);
  const seen: [string | null, string | null][] = [];
  await page.route(`**${file}`, async (route) => {
    const request = route.request();
    if (request.method() !== 'GET') return route.continue();
    seen.push([await request.headerValue('range'), await request.headerValue('if-range')]);
    const headers = { 'content-type': 'application/octet-stream' };
    if (seen.length === 1) {
      // Version "v1" breaks off halfway.
      return route.fulfill({
        status: 206,
        headers: { ...headers, etag: '"v1"', 'content-range': `bytes 0-${half - 1}/${whole.length}` },
        body: whole.subarray(0, half),
      });
    }
    if (seen.length === 2) {
      // A server that ignores If-Range sends the rest of another version: the page must
      // not glue it to v1's start.
      return route.fulfill({
        status: 206,
        headers: { ...headers, etag: '"v2"', 'content-range': `bytes ${half}-${whole.length - 1}/${whole.length}` },
        body: Buffer.alloc(whole.length - half, 0x5a),
      });
    }
    return route.continue();
  });
  await openOcr(page, `${c.query}&prompt=${encodeURIComponent(c.prompt)}`);
  await pickPicture(page, c.image);
  await page.getByTestId('run').click();
  const status = page.getByTestId('status');
  await expect(status).toHaveAttribute('data-state', 'error', { timeout: RUN_TIMEOUT });
  await page.getByTestId('run').click();
  await expect(status).toHaveAttribute('data-state', 'done', { timeout: RUN_TIMEOUT });
  // The resume named v1; the answer of v2 made the page start over, from byte 0.
  expect(seen).toEqual([
    [null, null],
    [`bytes=${half}-`, '"v1"'],
    [null, null],
  ]);
  expect(tokenIds(await page.getByTestId('output').getAttribute('data-token-ids'))).toEqual(c.cli.generated_ids);
});

// Hub folders served by xtask (ocr.rs `hostile_folders`): the tiny model with one file
// made hostile, as any `model=` link could serve it. Each ends in a clear error at once.
const hostile: [string, RegExp][] = [
  ['template-loops', /more work than any chat template needs/],
  ['zero-layers', /text_config\.num_hidden_layers.*must be positive/],
  ['huge-frames', /longest_edge 100000 is above the 8192 pixels/],
];
for (const [row, message] of hostile) {
  test(`a hostile model folder (${row}) gives a clear error, not a hang`, async ({ page }) => {
    const c = cases[0];
    await openOcr(page, `model=/models/hostile/${row}/&backend=wasm&tiles=all&prompt=${encodeURIComponent(c.prompt)}`);
    await pickPicture(page, c.image);
    await page.getByTestId('run').click();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'error', { timeout: RUN_TIMEOUT });
    await expect(page.getByTestId('error')).toContainText(message);
    // Nothing was encoded first.
    expect(await page.getByTestId('output').getAttribute('data-token-ids')).toBeFalsy();
  });
}
