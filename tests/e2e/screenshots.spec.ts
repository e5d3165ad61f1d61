// Not a check: with SCREENSHOTS=DIR set, saves pictures of the main pages (light, dark,
// 360 px) for a person to look at. Skipped otherwise.
import { test } from '@playwright/test';
import { waitForApp } from './site';

const dir = process.env.SCREENSHOTS;
const pages = {
  home: '/',
  compare: '/compare/karpathy-skills-vs-smolvlm2-2b/',
  tool: '/tool/smolvlm2-2b/',
  reviewer: '/reviewer/skeptic/',
  embed: '/embed/smolvlm2-2b/',
  notfound: '/nope/',
};

for (const [name, path] of Object.entries(pages)) {
  for (const [variant, scheme, width] of [
    ['light', 'light', 1280],
    ['dark', 'dark', 1280],
    ['phone', 'light', 360],
  ] as const) {
    test(`screenshot ${name} ${variant}`, async ({ page }) => {
      test.skip(!dir, 'set SCREENSHOTS=DIR to take screenshots');
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize({ width: name === 'embed' ? 360 : width, height: name === 'embed' ? 260 : 900 });
      await page.goto(path);
      if (name !== 'embed' && name !== 'notfound') await waitForApp(page);
      await page.screenshot({ path: `${dir}/${name}-${variant}.png`, fullPage: name !== 'embed' });
    });
  }
}
