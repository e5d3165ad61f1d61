// What the OCR specs share: the cases `cargo xtask test` made with the CLI (OCR_CASES), and
// opening and running the page.
import { readFileSync } from 'node:fs';
import { expect, type FrameLocator, type Page } from '@playwright/test';
import { waitForApp } from './site';

/** One run the browser must reproduce: the page's query, the picture, and the CLI's answer. */
export interface Case {
  name: string;
  query: string;
  prompt: string;
  image: string;
  /** The text model's file on disk (for a Hub folder, the folder). */
  model_file: string;
  cli: { prompt_ids: number[]; generated_ids: number[]; text: string };
}

const casesFile = process.env.OCR_CASES;
if (!casesFile) {
  throw new Error('OCR_CASES is not set: run the browser tests with `cargo xtask test`');
}
export const cases: Case[] = JSON.parse(readFileSync(casesFile, 'utf8'));

export async function openOcr(page: Page, query: string): Promise<void> {
  await page.goto(`/ocr/?${query}`);
  await waitForApp(page);
}

/** Picks a picture and waits until the page has read it ("Picture ready … press Run."). The
 * page reads a chosen file asynchronously: a Run pressed before that finds no picture yet, and
 * the page answers "Choose a picture first" (a person presses Run after seeing it ready). */
export async function pickPicture(scope: Page | FrameLocator, image: string): Promise<void> {
  await scope.getByTestId('image-input').setInputFiles(image);
  await expect(scope.getByTestId('status')).toContainText('Picture ready', { timeout: 60_000 });
}

/** Picks the picture and runs until `done`; a failure says what the page's error showed. */
export async function runOn(page: Page, image: string, timeout: number): Promise<void> {
  await pickPicture(page, image);
  await page.getByTestId('run').click();
  try {
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'done', { timeout });
  } catch (e) {
    const shown = await page.getByTestId('error').textContent().catch(() => null);
    throw new Error(`${(e as Error).message}\nthe page's error: ${shown ?? '(none)'}`);
  }
}

/** The ids of `output[data-token-ids]`. */
export function tokenIds(attr: string | null): number[] {
  return attr ? attr.split(',').map(Number) : [];
}
