// A sender's messages keep their order: typed faster than the server's
// message rate (10/s after a burst of 30), they reach everyone, and come
// back after a reload, in the order they were typed; the sender's own
// view shows the ones waiting their turn as pending, in place.
import { test, expect, type Page } from "@playwright/test";
import { aliceAndBob, bothIn, messages, open, unique } from "./helpers";

async function bodies(page: Page): Promise<string[]> {
  return messages(page).getByRole("article").locator(".body").allInnerTexts();
}

test("a burst past the rate limit arrives everywhere in the order it was typed, before and after a reload", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const channel = unique("order");
  await bothIn(a, b, channel);
  // 90 typed as fast as the test can type: past the burst of 30 and the
  // 10 per second after it, and within the 100 a channel keeps.
  const count = 90;
  const typed = Array.from({ length: count }, (_, i) => `in order ${i + 1}`);
  // Typed and sent with Enter, 50 a second (the app's own input and
  // keydown handlers run for each; a person pasting lines types as fast).
  const box = a.getByRole("textbox", { name: "Message" });
  await box.focus();
  await box.evaluate(async (el: HTMLTextAreaElement, lines: string[]) => {
    for (const line of lines) {
      el.value = line;
      el.dispatchEvent(new Event("input", { bubbles: true }));
      el.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
      await new Promise((done) => setTimeout(done, 20));
    }
  }, typed);
  // The ones still waiting their turn show as pending, in the order
  // typed, after the sent ones.
  const waiting = await messages(a).locator("article.pending .body").allInnerTexts();
  expect(waiting).toEqual(typed.slice(count - waiting.length));

  await expect(messages(b).getByRole("article")).toHaveCount(count, { timeout: 30_000 });
  expect(await bodies(b)).toEqual(typed);
  await expect(messages(a).locator("article.pending")).toHaveCount(0, { timeout: 30_000 });
  expect(await bodies(a)).toEqual(typed);

  for (const page of [a, b]) {
    await page.reload();
    await expect(page.locator("html[data-hydrated]")).toBeAttached();
    await expect(messages(page).getByRole("article")).toHaveCount(count);
    expect(await bodies(page)).toEqual(typed);
  }
  // A third person opening the channel later sees the same order.
  const carol = await browser.newContext();
  const c = await carol.newPage();
  await open(c);
  await c.getByLabel("Display name").fill(unique("carol"));
  await c.getByRole("button", { name: "Continue" }).click();
  await c.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: channel }).click();
  await expect(messages(c).getByRole("article")).toHaveCount(count);
  expect(await bodies(c)).toEqual(typed);
  await carol.close();
  await alice.close();
  await bob.close();
});
