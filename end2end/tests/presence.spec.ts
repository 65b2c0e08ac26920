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

test("unread counts and mentions show per channel, in the title, and clear when read", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const here = unique("here");
  const there = unique("there");
  await bothIn(a, b, here);
  await createChannel(a, there);
  const bobName = (await b.locator(".me-name").textContent()) ?? "";
  await a.getByRole("textbox", { name: "Message" }).fill("first news");
  await a.getByRole("textbox", { name: "Message" }).press("Enter");
  await a.getByRole("textbox", { name: "Message" }).fill(`@${bobName} this is for you`);
  await a.getByRole("textbox", { name: "Message" }).press("Enter");
  await expect(messages(a).getByRole("article")).toHaveCount(2);

  const link = b.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: there });
  await expect(link).toContainText("2", { timeout: 10_000 });
  await expect(link).toContainText("2 unread");
  await expect(link).toContainText("mentioned");
  await expect(b).toHaveTitle(new RegExp(`^\\(2\\) #${here}`));

  await link.click();
  await expect(b.getByRole("heading", { level: 1 })).toContainText(there);
  await expect(b.getByRole("separator", { name: "New messages" })).toBeVisible();
  await expect(link).not.toContainText("unread");
  await expect(b).toHaveTitle(new RegExp(`^#${there}`));

  // Read is kept by the server: a reload agrees.
  await b.reload();
  await expect(b.locator("html[data-hydrated]")).toBeAttached();
  await b.waitForTimeout(1_000);
  await expect(b.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: there })).not.toContainText("unread");
  await alice.close();
  await bob.close();
});

test("desktop notifications: asked only on click, shown for a mention while hidden, and can be turned off", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  // A stand-in for the Notification API that records what the page does.
  await b.evaluate(() => {
    const w = window as any;
    w.__asked = 0;
    w.__shown = [];
    w.Notification = class {
      static permission = "default";
      static requestPermission() {
        w.__asked += 1;
        w.Notification.permission = "granted";
        return Promise.resolve("granted");
      }
      constructor(title: string, options?: { body?: string }) {
        w.__shown.push({ title, body: options?.body });
      }
    };
  });
  const channel = unique("notes");
  await bothIn(a, b, channel);
  expect(await b.evaluate(() => (window as any).__asked)).toBe(0);

  const toggle = b.getByRole("checkbox", { name: "Desktop notifications" });
  await toggle.check();
  await expect(toggle).toBeChecked();
  expect(await b.evaluate(() => (window as any).__asked)).toBe(1);

  const bobName = (await b.locator(".me-name").textContent()) ?? "";
  await setHidden(b, true);
  await a.getByRole("textbox", { name: "Message" }).fill(`@${bobName} look at this`);
  await a.getByRole("textbox", { name: "Message" }).press("Escape");
  await a.getByRole("textbox", { name: "Message" }).press("Enter");
  await expect.poll(() => b.evaluate(() => (window as any).__shown.length)).toBe(1);
  const shown = await b.evaluate(() => (window as any).__shown[0]);
  expect(shown.title).toContain("mentioned you");
  expect(shown.body).toContain("look at this");

  // A private message while hidden (Bob is not in that conversation yet).
  await a.getByRole("list", { name: "People" }).getByRole("link", { name: bobName }).click();
  await a.getByRole("textbox", { name: "Message" }).fill("a private word");
  await a.getByRole("textbox", { name: "Message" }).press("Enter");
  await expect.poll(() => b.evaluate(() => (window as any).__shown.length), { timeout: 15_000 }).toBe(2);
  expect((await b.evaluate(() => (window as any).__shown[1])).title).toContain("New message from");
  await a.goBack();

  await setHidden(b, false);
  await toggle.uncheck();
  await setHidden(b, true);
  await a.getByRole("textbox", { name: "Message" }).fill(`@${bobName} again`);
  await a.getByRole("textbox", { name: "Message" }).press("Escape");
  await a.getByRole("textbox", { name: "Message" }).press("Enter");
  await expect(messages(b).getByRole("article").filter({ hasText: "again" })).toHaveCount(1);
  expect(await b.evaluate(() => (window as any).__shown.length)).toBe(2);
  await alice.close();
  await bob.close();
});

test("private messages: start one from the people list; only the two can read it", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const bobName = (await b.locator(".me-name").textContent()) ?? "";
  const aliceName = (await a.locator(".me-name").textContent()) ?? "";
  await a.getByRole("list", { name: "People" }).getByRole("link", { name: bobName }).click();
  await expect(a).toHaveURL(new RegExp(`/dm/${bobName}$`));
  await expect(a.getByRole("heading", { level: 1 })).toHaveText(`@${bobName}`);
  await a.getByRole("textbox", { name: "Message" }).fill("just between us");
  await a.getByRole("textbox", { name: "Message" }).press("Enter");
  await expect(messages(a).getByRole("article").filter({ hasText: "just between us" })).toHaveCount(1);

  // Bob finds it under Direct messages, with its count, and reads it.
  const dm = b.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: aliceName });
  await expect(dm).toContainText("1 unread", { timeout: 10_000 });
  await dm.click();
  await expect(b.getByRole("heading", { level: 1 })).toHaveText(`@${aliceName}`);
  await expect(messages(b).getByRole("article").filter({ hasText: "just between us" })).toHaveCount(1);
  const listed = await (await b.request.post("/api/list_conversations", { data: {} })).json();
  const channel: string = listed[0].channel;
  expect(channel.startsWith("dm:")).toBeTruthy();

  // Carol, going straight to that conversation's channel, gets nothing;
  // her own /dm/<alice> is a different, empty conversation.
  const carolCtx = await browser.newContext();
  const c = await carolCtx.newPage();
  await c.goto("/");
  await c.getByLabel("Display name").fill(unique("carol"));
  await c.getByRole("button", { name: "Continue" }).click();
  await expect(c.locator(".me-name")).not.toHaveText("");
  await c.goto(`/c/${encodeURIComponent(channel)}`);
  await expect(c.getByRole("alert")).toContainText("no channel");
  await expect(c.getByText("just between us")).toHaveCount(0);
  await c.goto(`/dm/${encodeURIComponent(aliceName)}`);
  await expect(c.getByRole("heading", { level: 1 })).toHaveText(`@${aliceName}`);
  await expect(messages(c).getByRole("article")).toHaveCount(0);
  await carolCtx.close();
  await alice.close();
  await bob.close();
});

test("a private conversation is remembered like a channel after closing the browser", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const bobName = (await b.locator(".me-name").textContent()) ?? "";
  await a.getByRole("list", { name: "People" }).getByRole("link", { name: bobName }).click();
  await expect(a.getByRole("heading", { level: 1 })).toHaveText(`@${bobName}`);
  await a.getByRole("textbox", { name: "Message" }).fill("see you later");
  await a.getByRole("textbox", { name: "Message" }).press("Enter");
  await expect(messages(a).getByRole("article").filter({ hasText: "see you later" })).toHaveCount(1);
  const state = await alice.storageState();
  await alice.close();

  const again = await browser.newContext({ storageState: state });
  const back = await again.newPage();
  await back.goto("/");
  await expect(back).toHaveURL(new RegExp(`/dm/${bobName}$`));
  await expect(back.getByRole("heading", { level: 1 })).toHaveText(`@${bobName}`);
  await expect(messages(back).getByRole("article").filter({ hasText: "see you later" })).toHaveCount(1);
  await again.close();
  await bob.close();
});
