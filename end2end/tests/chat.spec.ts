// The six core capabilities, as users would exercise them in Chromium.
import { test, expect } from "@playwright/test";
import { aliceAndBob, bothIn, chooseName, createChannel, messages, open, send, unique, waitConnected } from "./helpers";

test("the first visit asks for a display name and refuses bad or taken ones", async ({ browser }) => {
  const taken = unique("taken");
  const first = await browser.newContext();
  const p1 = await first.newPage();
  await open(p1);
  await chooseName(p1, taken);

  const second = await browser.newContext();
  const page = await second.newPage();
  await open(page);
  await expect(page.getByLabel("Display name")).toBeVisible();

  await page.getByLabel("Display name").fill("x".repeat(33));
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("alert")).toContainText("the limit is 32");

  await page.getByLabel("Display name").fill(taken.toUpperCase());
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("alert")).toContainText("taken");
  await expect(page.getByLabel("Display name")).toBeVisible();

  const mine = unique("dana");
  await chooseName(page, mine);
  await expect(page.getByText(mine).first()).toBeVisible();
  await first.close();
  await second.close();
});

test("two users exchange messages live, with names and local times", async ({ browser }) => {
  const channel = unique("general");
  const { alice, bob, a, b } = await aliceAndBob(browser);
  await bothIn(a, b, channel);
  await expect(b).toHaveURL(new RegExp(`/c/${channel}$`));

  await send(a, "hello bob");
  const seenByBob = messages(b).getByRole("article").filter({ hasText: "hello bob" });
  await expect(seenByBob).toHaveCount(1);
  const aliceName = await a.locator(".me-name").innerText();
  await expect(seenByBob).toContainText(aliceName);
  const datetime = await seenByBob.locator("time").getAttribute("datetime");
  expect(datetime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  // Shift+Enter makes a new line; Enter sends.
  const box = b.getByRole("textbox", { name: "Message" });
  await box.fill("line one");
  await box.press("Shift+Enter");
  await box.pressSequentially("line two");
  await box.press("Enter");
  const reply = messages(a).getByRole("article").filter({ hasText: "line one" });
  await expect(reply).toHaveCount(1);
  await expect(reply.locator(".body")).toHaveText("line one\nline two");
  await expect(box).toHaveValue("");

  // Order is the same for both.
  const order = async (page: typeof a) =>
    (await messages(page).getByRole("article").locator(".body").allInnerTexts()).map((t) => t.trim());
  await expect.poll(() => order(a)).toEqual(["hello bob", "line one\nline two"]);
  await expect.poll(() => order(b)).toEqual(["hello bob", "line one\nline two"]);
  await alice.close();
  await bob.close();
});

test("a channel created elsewhere appears live, and a clash in any case is refused", async ({ browser }) => {
  const channel = unique("Random");
  const { alice, bob, a, b } = await aliceAndBob(browser);

  await createChannel(a, channel);
  const nav = b.getByRole("navigation", { name: "Channels" });
  await expect(nav.getByRole("link", { name: channel })).toBeVisible();

  await b.getByLabel("Channel name").fill(channel.toLowerCase());
  await b.getByRole("button", { name: "Create" }).click();
  await expect(b.getByRole("alert")).toContainText("already exists");
  await expect(nav.getByRole("link", { name: channel, exact: false })).toHaveCount(1);

  await b.getByLabel("Channel name").fill("a/b");
  await b.getByRole("button", { name: "Create" }).click();
  await expect(b.getByRole("alert")).toContainText("'/'");

  const emoji = unique("☕ café ");
  await createChannel(b, emoji);
  await expect(b).toHaveURL(/\/c\/%E2%98%95/);
  await expect(a.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: emoji })).toBeVisible();
  await alice.close();
  await bob.close();
});

test("the name and channel survive closing the browser", async ({ browser }) => {
  const name = unique("carol");
  const channel = unique("book-club");
  const first = await browser.newContext();
  const page = await first.newPage();
  await open(page);
  await chooseName(page, name);
  await createChannel(page, channel);
  await waitConnected(page);
  await send(page, "remember me");
  await expect(messages(page).getByRole("article").filter({ hasText: "remember me" })).toHaveCount(1);
  const state = await first.storageState();
  await first.close();

  const again = await browser.newContext({ storageState: state });
  const back = await again.newPage();
  await open(back, "/");
  await expect(back).toHaveURL(new RegExp(`/c/${channel}$`));
  await expect(back.locator(".me-name")).toHaveText(name);
  await expect(messages(back).getByRole("article").filter({ hasText: "remember me" })).toHaveCount(1);
  await expect(back.getByLabel("Display name")).toHaveCount(0);

  // Reloading does not ask again either.
  await back.reload();
  await expect(back.locator("html[data-hydrated]")).toBeAttached();
  await expect(back.locator(".me-name")).toHaveText(name);
  await again.close();
});

test("a channel page loaded directly shows its history, oldest first", async ({ browser }) => {
  const channel = unique("history");
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await open(page);
  await chooseName(page, unique("erin"));
  await createChannel(page, channel);
  await waitConnected(page);
  for (const text of ["one", "two", "three"]) {
    await send(page, text);
    await expect(messages(page).getByRole("article").filter({ hasText: text })).toHaveCount(1);
  }
  const other = await ctx.newPage();
  await other.goto(`/c/${channel}`);
  // Server-rendered: present before hydration too.
  await expect(messages(other).getByRole("article")).toHaveCount(3);
  await expect(messages(other).getByRole("article").locator(".body")).toHaveText(["one", "two", "three"]);
  await ctx.close();
});

test("empty messages are not sent and over-long ones keep the draft with an error", async ({ page }) => {
  await open(page);
  await chooseName(page, unique("frank"));
  await createChannel(page, unique("limits"));
  await waitConnected(page);
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill("   ");
  await box.press("Enter");
  await expect(messages(page).getByRole("article")).toHaveCount(0);

  const long = "y".repeat(4001);
  await box.fill(long);
  await box.press("Enter");
  await expect(page.getByRole("alert")).toContainText("4001 characters");
  await expect(box).toHaveValue(long);
  await expect(messages(page).getByRole("article")).toHaveCount(0);
});
