// Shared steps for the browser tests, named for what a user does.
import { expect, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from "@playwright/test";

/** A name nobody else in this server run has. */
export function unique(prefix: string): string {
  return `${prefix}${Math.random().toString(36).slice(2, 8)}`;
}

/** Opens `path` and waits until the app has hydrated. */
export async function open(page: Page, path = "/"): Promise<void> {
  await page.goto(path);
  await expect(page.locator("html[data-hydrated]")).toBeAttached();
}

export async function chooseName(page: Page, name: string): Promise<void> {
  await page.getByLabel("Display name").fill(name);
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.locator(".me-name")).toHaveText(name);
}

export async function createChannel(page: Page, name: string): Promise<void> {
  await page.getByLabel("Channel name").fill(name);
  await page.getByLabel("Channel name").press("Enter");
  await expect(page.getByRole("heading", { level: 1 })).toContainText(name);
}

export function messages(page: Page) {
  return page.getByRole("log", { name: "Messages" });
}

export async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
}

export async function waitConnected(page: Page): Promise<void> {
  await expect(page.getByRole("status")).toHaveText(/Connected/);
}

/** Alice and Bob, each in their own browser, both signed in and connected. */
export async function aliceAndBob(
  browser: Browser,
  aliceOptions: BrowserContextOptions = {},
): Promise<{ alice: BrowserContext; bob: BrowserContext; a: Page; b: Page }> {
  const alice = await browser.newContext(aliceOptions);
  const bob = await browser.newContext();
  const a = await alice.newPage();
  const b = await bob.newPage();
  await open(a);
  await chooseName(a, unique("alice"));
  await open(b);
  await chooseName(b, unique("bob"));
  await waitConnected(a);
  await waitConnected(b);
  return { alice, bob, a, b };
}

/** Alice creates `channel`; Bob opens it from the channel list. */
export async function bothIn(a: Page, b: Page, channel: string): Promise<void> {
  await createChannel(a, channel);
  await b.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: channel }).click();
  await expect(b.getByRole("heading", { level: 1 })).toContainText(channel);
}
