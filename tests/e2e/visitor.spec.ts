import { expect, test } from '@playwright/test';
import { waitForApp } from './site';

test('an unknown tool shows the 404 page', async ({ page }) => {
  const res = await page.goto('/tool/no-such-tool/');
  expect(res?.status()).toBe(404);
  await expect(page.locator('h1')).toHaveText('Page not found');
  await expect(page.getByRole('link', { name: 'See all comparisons' })).toBeVisible();
});

test('an unknown comparison shows the 404 page', async ({ page }) => {
  const res = await page.goto('/compare/nothing-vs-nobody/');
  expect(res?.status()).toBe(404);
  await expect(page.locator('h1')).toHaveText('Page not found');
});

test('a keyboard user skips to the content and sees where the focus is', async ({ page }) => {
  await page.goto('/compare/karpathy-skills-vs-smolvlm2-2b/');
  await waitForApp(page);
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to content' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  const outline = await skip.evaluate((el) => getComputedStyle(el).outlineStyle);
  expect(outline).not.toBe('none');
  await page.keyboard.press('Enter');
  // The next Tab lands inside the main content, with a visible focus ring.
  await page.keyboard.press('Tab');
  const inMain = await page.evaluate(() => !!document.activeElement?.closest('main'));
  expect(inMain).toBe(true);
  const ring = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
  expect(ring).not.toBe('none');
});

function luminance(rgb: string): number {
  const [r, g, b] = (rgb.match(/\d+/g) ?? []).slice(0, 3).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

for (const scheme of ['light', 'dark'] as const) {
  test(`the ${scheme} theme follows the system setting with readable text`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto('/tool/smolvlm2-2b/');
    const colors = await page.evaluate(() => {
      const s = getComputedStyle(document.body);
      return { bg: s.backgroundColor, fg: s.color };
    });
    const [bg, fg] = [luminance(colors.bg), luminance(colors.fg)];
    if (scheme === 'dark') expect(bg).toBeLessThan(0.05);
    else expect(bg).toBeGreaterThan(0.8);
    const ratio = (Math.max(bg, fg) + 0.05) / (Math.min(bg, fg) + 0.05);
    expect(ratio).toBeGreaterThanOrEqual(4.5);
  });
}

test('a phone 360 px wide gets every page without sideways scrolling', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  for (const path of ['/', '/compare/karpathy-skills-vs-smolvlm2-2b/', '/tool/smolvlm2-2b/', '/reviewer/builder/']) {
    await page.goto(path);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, path).toBeLessThanOrEqual(0);
  }
});

test('the server sends wasm as application/wasm and resumes downloads with Range', async ({ page, request }) => {
  await page.goto('/');
  const wasm = await page.locator('link[rel=preload][as=fetch]').getAttribute('href');
  expect(wasm).toMatch(/\.wasm$/);
  const whole = await request.get(wasm!);
  expect(whole.headers()['content-type']).toBe('application/wasm');
  const part = await request.get(wasm!, { headers: { Range: 'bytes=8-15' } });
  expect(part.status()).toBe(206);
  expect((await part.body()).equals((await whole.body()).subarray(8, 16))).toBe(true);
});
