// The site's Content-Security-Policy (a meta tag on every page, crates/prerender/src/csp.rs):
// each kind of page works under it with no violation, and a script injected into a page
// does not run.
import { expect, test, type Page } from '@playwright/test';
import { collectErrors, sitemapPaths, waitForApp } from './site';

/** Violations the page reports, from its first script on. */
async function watchViolations(page: Page): Promise<void> {
  await page.addInitScript(() => {
    (window as any).violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as any).violations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
}

test('every kind of page runs under its policy with no violation, and injected script is refused', async ({
  page,
  request,
}) => {
  const [compare] = await sitemapPaths(request, '/compare/');
  const [tool] = await sitemapPaths(request, '/tool/');
  // The embed cards are not in the sitemap (not for search engines): each tool has one.
  const embed = tool.replace('/tool/', '/embed/');
  const pages = ['/', compare, tool, '/ocr/', '/embed/ocr/', '/bench/', '/kiosk/'];
  await watchViolations(page);
  const errors = collectErrors(page);
  for (const path of pages) {
    await page.goto(path);
    await waitForApp(page);
    const policy = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    expect(policy, path).toContain("script-src 'self' 'wasm-unsafe-eval' 'sha256-");
    expect(policy, path).not.toContain("script-src 'self' 'unsafe-inline'");
    // A script the page did not ship (as an injection would add it) does not run.
    const ran = await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.injected = true;';
      document.head.append(s);
      return (window as any).injected === true;
    });
    expect(ran, path).toBe(false);
    const violations: string[] = await page.evaluate(() => (window as any).violations);
    // The only violation is the one just provoked.
    expect(violations.length, `${path}: ${violations}`).toBe(1);
    expect(violations[0], path).toMatch(/^script-src(-elem)? inline$/);
  }
  // The embed card is a static page: its own two inline scripts run (it reports its
  // height), nothing else does.
  await page.goto(embed);
  await expect(page.locator('meta[http-equiv="Content-Security-Policy"]')).toHaveCount(1);
  expect(await page.evaluate(() => (window as any).violations)).toEqual([]);
  // Chromium logs each refusal as a console error: the provoked ones, one per page, and
  // nothing else.
  expect(errors.length, errors.join('\n')).toBe(pages.length);
  expect(errors.every((e) => e.includes('Content Security Policy')), errors.join('\n')).toBe(true);
});
