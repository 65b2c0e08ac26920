// Threads, links to a message and channel topics, in two browsers.
import { test, expect, type Page } from "@playwright/test";
import { aliceAndBob, bothIn, chooseName, messages, open, send, unique, waitConnected } from "./helpers";

function article(page: Page, text: string) {
  return messages(page).getByRole("article").filter({ hasText: text });
}

function thread(page: Page) {
  return page.getByRole("complementary", { name: "Thread" });
}

async function reply(page: Page, text: string): Promise<void> {
  const box = thread(page).getByRole("textbox", { name: "Reply" });
  await box.fill(text);
  await box.press("Enter");
}

test("a reply in a thread reaches the other browser live and raises the count; Esc closes it", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const channel = unique("threads");
  await bothIn(a, b, channel);
  await send(a, "Lunch?");
  await expect(article(b, "Lunch?")).toHaveCount(1);

  await article(b, "Lunch?").hover();
  await article(b, "Lunch?").getByRole("button", { name: "Reply in thread" }).click();
  await expect(thread(b)).toBeVisible();
  await expect(b).toHaveURL(/\?thread=\d+$/);
  await expect(thread(b).getByRole("textbox", { name: "Reply" })).toBeFocused();
  await reply(b, "Noon works");

  // Alice's root says so live; the reply is not in the channel.
  await expect(article(a, "Lunch?").getByRole("button", { name: "1 reply" })).toBeVisible();
  await expect(article(a, "Noon works")).toHaveCount(0);
  await article(a, "Lunch?").getByRole("button", { name: "1 reply" }).click();
  await expect(thread(a).getByRole("article").filter({ hasText: "Noon works" })).toHaveCount(1);

  await reply(b, "See you there");
  await expect(thread(a).getByRole("article").filter({ hasText: "See you there" })).toHaveCount(1);
  await expect(article(a, "Lunch?").getByRole("button", { name: "2 replies" })).toBeVisible();

  // "Also send to #channel" puts it in the channel too.
  await thread(b).getByRole("checkbox", { name: `Also send to #${channel}` }).check();
  await reply(b, "Booked a table");
  await expect(article(a, "Booked a table")).toHaveCount(1);
  await expect(thread(a).getByRole("article").filter({ hasText: "Booked a table" })).toHaveCount(1);

  // Esc closes it and gives focus back to the message's "Reply in thread".
  await thread(b).getByRole("textbox", { name: "Reply" }).press("Escape");
  await expect(thread(b)).toHaveCount(0);
  await expect(b).not.toHaveURL(/thread=/);
  await expect(article(b, "Lunch?").getByRole("button", { name: "Reply in thread" })).toBeFocused();

  // The open thread is in the URL and the browser remembers it.
  await a.reload();
  await expect(thread(a).getByRole("article").filter({ hasText: "See you there" })).toHaveCount(1);
  const again = await alice.newPage();
  await open(again, "/");
  await expect(thread(again).getByRole("article").filter({ hasText: "Noon works" })).toHaveCount(1);
  await alice.close();
  await bob.close();
});

test("a resume after a dropped connection misses no thread reply and shows none twice", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  await bothIn(a, b, unique("resume"));
  await send(a, "Root of it all");
  await article(b, "Root of it all").hover();
  await article(b, "Root of it all").getByRole("button", { name: "Reply in thread" }).click();
  await expect(thread(b).getByRole("article").filter({ hasText: "Root of it all" })).toHaveCount(1);
  await article(a, "Root of it all").hover();
  await article(a, "Root of it all").getByRole("button", { name: "Reply in thread" }).click();

  await bob.setOffline(true);
  await expect(b.getByRole("status")).toHaveText(/Offline/);
  for (const n of [1, 2, 3, 4, 5]) {
    await reply(a, `while away ${n}`);
    await expect(thread(a).getByRole("article").filter({ hasText: `while away ${n}` })).toHaveCount(1);
  }
  await bob.setOffline(false);
  await waitConnected(b);
  const replies = thread(b).getByRole("log", { name: "Replies" }).locator("article:not(:first-child)");
  await expect(thread(b).getByRole("article").filter({ hasText: "while away" })).toHaveCount(5);
  const texts = await thread(b).getByRole("article").filter({ hasText: "while away" }).locator(".body").allInnerTexts();
  expect(texts).toEqual([1, 2, 3, 4, 5].map((n) => `while away ${n}`));
  await expect(article(b, "Root of it all").getByRole("button", { name: "5 replies" })).toBeVisible();
  expect(replies).toBeTruthy();
  await alice.close();
  await bob.close();
});

test("a copied link opens the message in a fresh browser; a private one shows nothing to others", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser, { permissions: ["clipboard-read", "clipboard-write"] });
  const channel = unique("links");
  await bothIn(a, b, channel);
  await send(a, "The one to link");
  for (let n = 0; n < 25; n++) await send(a, `filler ${n}`);
  await expect(article(a, "filler 24")).toHaveCount(1);
  await article(a, "The one to link").hover();
  await article(a, "The one to link").getByRole("button", { name: "Copy link" }).click();
  const link = await a.evaluate(() => navigator.clipboard.readText());
  expect(link).toMatch(new RegExp(`/c/${channel}/\\d+$`));

  const fresh = await browser.newContext();
  const f = await fresh.newPage();
  await open(f, link);
  await chooseName(f, unique("carol"));
  const linked = messages(f).getByRole("article").filter({ hasText: "The one to link" });
  await expect(linked).toHaveClass(/focused/);
  await expect(linked).toBeInViewport();

  // A link into a private conversation opens for the other one in it,
  // and shows nothing to anyone else.
  const bobName = (await b.locator(".me-name").textContent()) ?? "";
  await a.getByRole("list", { name: "People" }).getByRole("link", { name: bobName }).click();
  await send(a, "Just between us");
  await article(a, "Just between us").hover();
  await article(a, "Just between us").getByRole("button", { name: "Copy link" }).click();
  const privateLink = await a.evaluate(() => navigator.clipboard.readText());
  expect(privateLink).toMatch(/\/c\/dm%3A.+\/\d+$/);
  await open(f, privateLink);
  await expect(f.getByText("Channel unavailable")).toBeVisible();
  await expect(f.getByText("Just between us")).toHaveCount(0);
  await open(b, privateLink);
  await expect(messages(b).getByRole("article").filter({ hasText: "Just between us" })).toHaveClass(/focused/);
  await fresh.close();
  await alice.close();
  await bob.close();
});

test("a topic set in one browser shows in the other's header live", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  await bothIn(a, b, unique("topics"));
  await a.getByRole("button", { name: "Set topic" }).click();
  const field = a.getByRole("textbox", { name: "Topic" });
  await expect(field).toBeFocused();
  await field.fill("Release on **Friday**");
  await a.getByRole("button", { name: "Save topic" }).click();
  const topic = b.getByRole("note", { name: "Topic" });
  await expect(topic).toHaveText("Release on Friday");
  await expect(topic.locator("strong")).toHaveText("Friday");
  await b.reload();
  await expect(b.getByRole("note", { name: "Topic" })).toHaveText("Release on Friday");
  await alice.close();
  await bob.close();
});

test("a link to a message that is gone says so instead of failing silently", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const channel = unique("gone");
  await bothIn(a, b, channel);
  await send(a, "Soon deleted");
  await send(a, "Stays");
  const seq = await article(a, "Soon deleted").getAttribute("data-seq");
  await open(b, `/c/${channel}/${seq}`);
  await expect(article(b, "Soon deleted")).toHaveClass(/focused/);
  await article(a, "Soon deleted").getByRole("button", { name: "Delete message" }).focus();
  await a.keyboard.press("Enter");
  await expect(article(a, "Soon deleted")).toHaveCount(0);
  await open(b, `/c/${channel}/${seq}`);
  await expect(b.getByText("That message is no longer here")).toBeVisible();
  await expect(article(b, "Stays")).toHaveCount(1);
  await alice.close();
  await bob.close();
});
