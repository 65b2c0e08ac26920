// Who is here, who is typing, and drafts that wait for you.
import { test, expect, type Page } from "@playwright/test";
import { aliceAndBob, bothIn, createChannel, messages, unique } from "./helpers";

function person(page: Page, name: string) {
  return page.getByRole("list", { name: "People" }).getByRole("listitem").filter({ hasText: name });
}

/** Makes the page report itself hidden (or visible) as a browser does. */
async function setHidden(page: Page, hidden: boolean) {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

test("people are shown online, away and offline, live", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const aliceName = (await a.locator(".me-name").textContent()) ?? "";
  await expect(person(b, aliceName)).toContainText("online");

  await setHidden(a, true);
  await expect(person(b, aliceName)).toContainText("away");
  await setHidden(a, false);
  await expect(person(b, aliceName)).toContainText("online");

  // Closing the only tab: offline within seconds.
  await alice.close();
  await expect(person(b, aliceName)).toContainText("offline", { timeout: 5_000 });
  await bob.close();
});

test("typing shows for the others in the channel and expires by itself", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  await bothIn(a, b, unique("typing"));
  const aliceName = (await a.locator(".me-name").textContent()) ?? "";
  await a.getByRole("textbox", { name: "Message" }).pressSequentially("hel");
  await expect(b.getByText(`${aliceName} is typing…`)).toBeVisible();
  await expect(a.getByText(`${aliceName} is typing…`)).toHaveCount(0);
  // No more keys: it goes away by itself.
  await expect(b.getByText(`${aliceName} is typing…`)).toHaveCount(0, { timeout: 10_000 });
  await alice.close();
  await bob.close();
});

test("each channel keeps its unsent draft while you switch", async ({ browser }) => {
  const { alice, bob, a } = await aliceAndBob(browser);
  const first = unique("one");
  const second = unique("two");
  await createChannel(a, first);
  const box = a.getByRole("textbox", { name: "Message" });
  await box.fill("half a thought");
  await createChannel(a, second);
  await expect(box).toHaveValue("");
  await box.fill("another draft");
  await a.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: first }).click();
  await expect(a.getByRole("heading", { level: 1 })).toContainText(first);
  await expect(box).toHaveValue("half a thought");
  await a.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: second }).click();
  await expect(box).toHaveValue("another draft");
  await box.press("Enter");
  await expect(messages(a).getByRole("article").filter({ hasText: "another draft" })).toHaveCount(1);
  await a.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: first }).click();
  await a.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: second }).click();
  await expect(box).toHaveValue("", { timeout: 5_000 });
  await alice.close();
  await bob.close();
});
