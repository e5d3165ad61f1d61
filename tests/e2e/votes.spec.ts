// Community votes, as a visitor meets them: `cargo xtask test` builds dist/ with a votes
// service on the site's own origin (`<meta name="votes-api" content="/">`) and serves one
// (a fresh SQLite file) behind /api/. The numbers asserted come from the service's own
// answers, so the tests hold whatever votes earlier runs left.
import { expect, test, type Page, type Response } from '@playwright/test';
import { collectErrors, waitForApp } from './site';

const COMPARE = '/compare/karpathy-skills-vs-smolvlm2-2b/';
const TOOL = 'smolvlm2-2b';
const NAME = 'SmolVLM2-2B';

type Tally = { item: string; ship: number; skip: number; total: number; ship_percent: number | null; your_vote: string | null };

/** The catalog's wording of a split ("67% ship · 2 ship / 1 skip"). */
function splitText(t: Tally): string {
  return t.total === 0 ? 'No community votes yet' : `${t.ship_percent}% ship · ${t.ship} ship / ${t.skip} skip`;
}

function row(page: Page) {
  return page.locator(`table.decision [data-testid="community"][data-item="${TOOL}"]`);
}

function isVote(r: Response): boolean {
  return r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/votes';
}

// One visitor (one browser context) through the whole story, in order.
test.describe.configure({ mode: 'serial' });

test.describe('a visitor votes on a compare page', () => {
  let page: Page;
  let afterShip: Tally;
  let afterSkip: Tally;

  test.beforeAll(async ({ browser }) => {
    page = await browser.newPage();
  });
  test.afterAll(async () => {
    await page.close();
  });

  test('voting Ship reveals the community split beside the panel', async () => {
    const errors = collectErrors(page);
    const loaded = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/votes/${TOOL}`);
    await page.goto(COMPARE);
    await waitForApp(page);
    const before: Tally = await (await loaded).json();
    expect(before.your_vote).toBeNull();

    const group = row(page).getByRole('group', { name: `Your vote on ${NAME}` });
    const ship = group.getByRole('button', { name: 'Ship' });
    await expect(ship).toHaveAttribute('aria-pressed', 'false');
    await expect(row(page).getByTestId('community-split')).toHaveText(splitText(before));

    const [res] = await Promise.all([page.waitForResponse(isVote), ship.click()]);
    expect(res.status()).toBe(200);
    afterShip = await res.json();
    expect(afterShip).toMatchObject({ item: TOOL, ship: before.ship + 1, skip: before.skip, total: before.total + 1, your_vote: 'ship' });
    await expect(ship).toHaveAttribute('aria-pressed', 'true');
    await expect(row(page).getByTestId('community-split')).toHaveText(splitText(afterShip));
    await expect(row(page).getByTestId('community-split')).toContainText('% ship');
    await expect(row(page).getByTestId('vote-note')).toHaveText('You voted ship today; vote again to change it.');
    // The panel's verdict stays beside it, in the row above.
    await expect(page.locator('table.decision tbody tr').first().locator('td').nth(0)).toHaveText('Ship 3 ship / 1 skip');
    expect(errors).toEqual([]);
  });

  test('after a reload the vote and the split are still there', async () => {
    await page.reload();
    await waitForApp(page);
    const ship = row(page).getByRole('button', { name: 'Ship' });
    await expect(ship).toHaveAttribute('aria-pressed', 'true');
    await expect(row(page).getByTestId('community-split')).toHaveText(splitText(afterShip));
  });

  test('voting Skip the same day (from the keyboard) moves the counts instead of adding one', async () => {
    const skip = row(page).getByRole('button', { name: 'Skip' });
    await skip.focus();
    const [res] = await Promise.all([page.waitForResponse(isVote), page.keyboard.press('Enter')]);
    afterSkip = await res.json();
    expect(afterSkip).toMatchObject({ ship: afterShip.ship - 1, skip: afterShip.skip + 1, total: afterShip.total, your_vote: 'skip' });
    await expect(skip).toHaveAttribute('aria-pressed', 'true');
    await expect(row(page).getByRole('button', { name: 'Ship' })).toHaveAttribute('aria-pressed', 'false');
    await expect(row(page).getByTestId('community-split')).toHaveText(splitText(afterSkip));
  });

  test('the tool page and the embed card show the new numbers', async () => {
    await page.goto(`/tool/${TOOL}/`);
    await waitForApp(page);
    const tool = page.locator(`.community-line [data-testid="community"][data-item="${TOOL}"]`);
    await expect(tool.getByTestId('community-split')).toHaveText(splitText(afterSkip));
    await expect(tool.getByRole('button', { name: 'Skip' })).toHaveAttribute('aria-pressed', 'true');

    await page.goto(`/embed/${TOOL}/`);
    await expect(page.locator('[data-testid="embed-community"] .embed-community-split')).toHaveText(splitText(afterSkip));
  });

  test('the live badge is well-formed SVG that says the community split', async () => {
    for (const suffix of ['', '-dark', '-flat', '-flat-dark']) {
      const res = await page.request.get(`/api/badge/${TOOL}${suffix}.svg`);
      expect(res.status()).toBe(200);
      expect(res.headers()['content-type']).toMatch(/^image\/svg\+xml/);
      expect(res.headers()['set-cookie']).toBeUndefined();
      const svg = await res.text();
      const parsed = await page.evaluate((text) => {
        const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
        return {
          error: doc.getElementsByTagName('parsererror').length > 0,
          label: doc.documentElement.getAttribute('aria-label'),
        };
      }, svg);
      expect(parsed.error, suffix).toBe(false);
      expect(parsed.label, suffix).toContain(
        `community ${afterSkip.ship_percent}% ship (${afterSkip.ship} ship / ${afterSkip.skip} skip)`,
      );
    }
  });
});

test('without JavaScript the row reads the pre-rendered text and has no buttons', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(COMPARE);
  await expect(row(page).getByTestId('community-split')).toHaveText('No community votes yet');
  await expect(page.getByRole('button', { name: 'Ship' })).toHaveCount(0);
  await context.close();
});

test('with the votes service unreachable the row keeps its text and shows no buttons', async ({ page }) => {
  await page.route('**/api/**', (route) => route.abort());
  const failed = page.waitForEvent('requestfailed', (r) => new URL(r.url()).pathname === `/api/votes/${TOOL}`);
  await page.goto(COMPARE);
  await waitForApp(page);
  await failed;
  await expect(row(page).getByTestId('community-split')).toHaveText('No community votes yet');
  await expect(row(page).getByRole('button')).toHaveCount(0);
});
