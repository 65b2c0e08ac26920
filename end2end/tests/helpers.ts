// Shared steps for the browser tests, named for what a user does.
import { expect, type Page } from "@playwright/test";

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
