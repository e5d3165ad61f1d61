// Shared helpers: the site's pages (from its sitemap), console-error capture, app start.
import { expect, type APIRequestContext, type Page } from '@playwright/test';

/** Paths (e.g. "/compare/a-vs-b/") of the sitemap's pages whose path starts with `prefix`. */
export async function sitemapPaths(request: APIRequestContext, prefix: string): Promise<string[]> {
  const res = await request.get('/sitemap.xml');
  expect(res.status()).toBe(200);
  const xml = await res.text();
  const paths = [...xml.matchAll(/<loc>([^<]+)<\/loc>/g)].map((m) => new URL(m[1]).pathname);
  return paths.filter((p) => p.startsWith(prefix));
}

/** Collects console errors and uncaught exceptions of a page, from now on. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  return errors;
}

/** Waits until the wasm app has hydrated the page (web-app marks <html data-hydrated>). */
export async function waitForApp(page: Page): Promise<void> {
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true', { timeout: 15_000 });
}
