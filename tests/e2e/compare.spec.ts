import { expect, test } from '@playwright/test';
import { collectErrors, sitemapPaths, waitForApp } from './site';

test('each compare page shows both verdicts after the app loads, with no console errors', async ({ page, request }) => {
  const paths = await sitemapPaths(request, '/compare/');
  expect(paths.length).toBeGreaterThanOrEqual(4);
  for (const path of paths) {
    const errors = collectErrors(page);
    await page.goto(path);
    await waitForApp(page);
    const cards = page.locator('.versus .tool-card');
    await expect(cards).toHaveCount(2);
    for (const card of await cards.all()) {
      await expect(card.locator('.pill')).toHaveText(/^(Ship|Skip|Split)$/);
      await expect(card.locator('.stats .big').first()).toHaveText(/^\d{1,3}%$/);
    }
    // The decision table repeats both verdicts with their splits.
    await expect(page.locator('table.decision tbody tr').first().locator('td')).toHaveCount(2);
    expect(errors, `${path}: ${errors.join('\n')}`).toEqual([]);
    page.removeAllListeners('console');
    page.removeAllListeners('pageerror');
  }
});

test('the seed comparison shows the panel split the source states', async ({ page }) => {
  // Seed "SmolVLM2-2B vs Karpathy Skills": both Ship, 75% panel ship, 3 ship / 1 skip.
  await page.goto('/compare/karpathy-skills-vs-smolvlm2-2b/');
  await waitForApp(page);
  await expect(page.locator('h1')).toHaveText('SmolVLM2-2B vs Karpathy Skills');
  const verdictRow = page.locator('table.decision tbody tr').first();
  await expect(verdictRow.locator('td').nth(0)).toHaveText('Ship 3 ship / 1 skip');
  await expect(verdictRow.locator('td').nth(1)).toHaveText('Ship 3 ship / 1 skip');
  await expect(page.locator('.versus .tool-card .stats .big').first()).toHaveText('75%');
  // The Founder skipped SmolVLM2-2B with 52/100; the Creator has no take on it.
  const founder = page.locator('.score-row', { has: page.getByRole('link', { name: 'Founder' }) });
  await expect(founder.locator('.score-label').first()).toHaveText('52/100 · skip');
  const creator = page.locator('.score-row', { has: page.getByRole('link', { name: 'Creator' }) });
  await expect(creator.locator('.take').first()).toContainText('No panel take');
});

test('the pre-rendered HTML of a compare page names both tools and its og:image', async ({ request }) => {
  const res = await request.get('/compare/claude-4-sonnet-vs-smolvlm2-2b/');
  expect(res.status()).toBe(200);
  const html = await res.text();
  const body = html.slice(html.indexOf('<body>'));
  expect(body).toContain('Claude 4 Sonnet');
  expect(body).toContain('SmolVLM2-2B');
  const og = html.match(/<meta property="og:image" content="([^"]+)">/);
  expect(og).not.toBeNull();
  const png = await request.get(new URL(og![1]).pathname);
  expect(png.status()).toBe(200);
  expect(png.headers()['content-type']).toBe('image/png');
});

test('the reverse order of a comparison redirects to its page', async ({ page }) => {
  await page.goto('/compare/smolvlm2-2b-vs-karpathy-skills/');
  await expect(page).toHaveURL(/\/compare\/karpathy-skills-vs-smolvlm2-2b\/$/);
  await expect(page.locator('h1')).toHaveText('SmolVLM2-2B vs Karpathy Skills');
});

test('a visitor goes from the home page to a comparison without reloading', async ({ page }) => {
  const errors = collectErrors(page);
  await page.goto('/');
  await waitForApp(page);
  await page.evaluate(() => ((window as any).__samePage = true));
  await page.getByRole('link', { name: 'Claude 4 Sonnet vs SmolVLM2-2B' }).click();
  await expect(page).toHaveURL(/\/compare\/claude-4-sonnet-vs-smolvlm2-2b\/$/);
  await expect(page.locator('h1')).toHaveText('Claude 4 Sonnet vs SmolVLM2-2B');
  await expect(page).toHaveTitle(/^Claude 4 Sonnet vs SmolVLM2-2B/);
  expect(await page.evaluate(() => (window as any).__samePage)).toBe(true);
  expect(errors).toEqual([]);
});

test('filtering the home page by category keeps only that category', async ({ page }) => {
  await page.goto('/');
  await waitForApp(page);
  const chips = page.locator('.filters button');
  const all = chips.first();
  await expect(all).toHaveAttribute('aria-pressed', 'true');
  const dev = page.getByRole('button', { name: 'Developer Tools' });
  await dev.click();
  await expect(dev).toHaveAttribute('aria-pressed', 'true');
  await expect(all).toHaveAttribute('aria-pressed', 'false');
  // Every seed tool is a Developer Tool, so all stay visible.
  await expect(page.locator('#tools li:visible')).toHaveCount(await page.locator('#tools li').count());
});
