import { createServer, type Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { expect, test } from '@playwright/test';
import { collectErrors, waitForApp } from './site';

const SITE = process.env.SITE_ORIGIN!;

// The embed snippet's sandbox (catalog's EMBED_SANDBOX; render.rs checks the snippet
// carries exactly these): the card must work inside it.
const EMBED_SANDBOX = 'allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox';

// A page of ANOTHER origin (a second port) that pastes the snippets, as a blog would.
let host: Server;
let hostOrigin = '';

test.beforeAll(async () => {
  host = createServer((req, res) => {
    const slug = new URL(req.url ?? '/', 'http://x').searchParams.get('slug') ?? 'smolvlm2-2b';
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!DOCTYPE html><html><head><title>host</title></head><body>
<script>window.heights = []; addEventListener('message', (e) => { if (e.data && e.data.type === 'embed-height') heights.push({ origin: e.origin, height: e.data.height }); });</script>
<p>A blog post.</p>
<a href="${SITE}/tool/${slug}/"><img id="badge" src="${SITE}/badge/${slug}.svg" width="360" height="90" alt="badge"></a>
<img id="flat" src="${SITE}/badge/${slug}-flat.svg" alt="flat badge">
<iframe id="card" src="${SITE}/embed/${slug}/" width="360" height="260" style="border:0" sandbox="${EMBED_SANDBOX}"></iframe>
</body></html>`);
  });
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
  hostOrigin = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
});

test.afterAll(async () => {
  await new Promise((resolve) => host.close(resolve));
});

test('a badge pasted on another site renders as an image at its size', async ({ page }) => {
  await page.goto(`${hostOrigin}/`);
  const badge = page.locator('#badge');
  await expect(badge).toBeVisible();
  const size = await badge.evaluate((img: HTMLImageElement) => ({
    complete: img.complete,
    w: img.naturalWidth,
    h: img.naturalHeight,
    shownW: img.getBoundingClientRect().width,
    shownH: img.getBoundingClientRect().height,
  }));
  expect(size).toEqual({ complete: true, w: 360, h: 90, shownW: 360, shownH: 90 });
  const flat = await page.locator('#flat').evaluate((img: HTMLImageElement) => [img.complete, img.naturalWidth, img.naturalHeight]);
  expect(flat[0]).toBe(true);
  expect(flat[1]).toBeGreaterThan(40);
  expect(flat[2]).toBeGreaterThan(10);
});

test('the embed card fits 360x260 on another site and posts its height', async ({ page, context }) => {
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${hostOrigin}/`);
  await expect.poll(() => page.evaluate(() => (window as any).heights.length)).toBeGreaterThan(0);
  const heights = await page.evaluate(() => (window as any).heights);
  expect(heights[0].origin).toBe(SITE);
  expect(heights[0].height).toBeGreaterThan(100);
  expect(heights[0].height).toBeLessThanOrEqual(260);

  const frame = page.frameLocator('#card');
  const card = frame.locator('.embed-card');
  await expect(card).toBeVisible();
  const box = await card.evaluate((el) => {
    const r = el.getBoundingClientRect();
    return { w: r.width, h: r.height, sw: document.documentElement.scrollWidth, sh: document.documentElement.scrollHeight };
  });
  expect(box.w).toBeLessThanOrEqual(360);
  expect(box.h).toBeLessThanOrEqual(260);
  expect(box.sw).toBeLessThanOrEqual(360);
  expect(box.sh).toBeLessThanOrEqual(260);
  expect(Math.ceil(box.h)).toBe(heights[heights.length - 1].height);

  // Links open the site in a new tab, never inside the iframe.
  const links = frame.locator('a');
  expect(await links.count()).toBeGreaterThan(0);
  for (const a of await links.all()) {
    await expect(a).toHaveAttribute('target', '_blank');
    await expect(a).toHaveAttribute('rel', /noopener/);
  }
  // Nothing but the host and the site was asked for, and no cookie was set.
  for (const url of requests) {
    expect([hostOrigin, SITE]).toContain(new URL(url).origin);
  }
  expect(await context.cookies()).toEqual([]);
});

test('the embed card posts a new height when its size changes', async ({ page }) => {
  await page.goto(`${hostOrigin}/`);
  await expect.poll(() => page.evaluate(() => (window as any).heights.length)).toBeGreaterThan(0);
  const before = await page.evaluate(() => (window as any).heights.length);
  // A narrower iframe wraps the text: the card reflows and reports again.
  await page.locator('#card').evaluate((f: HTMLIFrameElement) => (f.style.width = '250px'));
  const frame = page.frameLocator('#card');
  await frame.locator('.embed-card').evaluate((el: HTMLElement) => (el.style.height = 'auto'));
  await expect.poll(() => page.evaluate(() => (window as any).heights.length)).toBeGreaterThan(before);
});

test('a tool page offers the snippets and copies one with its button', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const errors = collectErrors(page);
  await page.goto('/tool/smolvlm2-2b/');
  await waitForApp(page);
  const snippet = page.locator('.snippet', { hasText: 'Badge (Markdown)' });
  const code = await snippet.locator('code').innerText();
  expect(code).toMatch(/^\[!\[.+\]\(http.+\/badge\/smolvlm2-2b-flat\.svg\)\]\(http.+\/tool\/smolvlm2-2b\/\)$/);
  await snippet.getByRole('button', { name: 'Copy' }).click();
  await expect(snippet.getByRole('status')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(code);
  await expect(page.locator('.snippet', { hasText: 'Card (iframe)' }).locator('code')).toContainText('<iframe src=');
  await expect(page.locator('.snippet', { hasText: 'Badge (HTML)' }).locator('code')).toContainText('<img src=');
  expect(errors).toEqual([]);
});

test('a tool page head links its oEmbed JSON', async ({ request }) => {
  const html = await (await request.get('/tool/smolvlm2-2b/')).text();
  const m = html.match(/<link rel="alternate" type="application\/json\+oembed" href="([^"]+)"/);
  expect(m).not.toBeNull();
  const res = await request.get(new URL(m![1]).pathname);
  expect(res.status()).toBe(200);
  const json = await res.json();
  expect(json.type).toBe('rich');
  expect(json.width).toBe(360);
  expect(json.height).toBe(260);
  expect(json.html).toContain('/embed/smolvlm2-2b/');
});
