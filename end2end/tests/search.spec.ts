// Searching messages in the browser: live results, marked words, a click
// that opens the message, and nothing from anyone else's conversation.
import { test, expect, type Page } from "@playwright/test";
import { aliceAndBob, bothIn, chooseName, messages, open, send, unique, waitConnected } from "./helpers";

function searchField(page: Page) {
  return page.getByRole("search", { name: "Search messages" }).getByRole("searchbox", { name: "Search messages" });
}

function results(page: Page) {
  return page.getByRole("list", { name: "Search results" }).getByRole("listitem");
}

test("search finds what you may see as you type, never another pair's private message, and opens a hit", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const channel = unique("search");
  await bothIn(a, b, channel);
  const word = unique("café");
  await send(a, `${word} meeting notes`);
  const bobName = (await b.locator(".me-name").textContent()) ?? "";
  await a.getByRole("list", { name: "People" }).getByRole("link", { name: bobName }).click();
  await send(a, `secret ${word} plan`);
  await expect(messages(a).getByRole("article").filter({ hasText: "secret" })).toHaveCount(1);

  // "/" in an empty composer goes to the search field.
  await a.getByRole("textbox", { name: "Message" }).click();
  await a.keyboard.press("/");
  await expect(searchField(a)).toBeFocused();
  await a.keyboard.type(word.toUpperCase().normalize("NFD").replace(/\p{M}/gu, ""));
  await expect(results(a)).toHaveCount(2);
  await expect(results(a).first()).toContainText("secret");
  await expect(results(a).first().locator("mark")).toHaveText(word);
  await expect(results(a).nth(1)).toContainText(`#${channel}`);

  // A third person finds the channel's message, not the conversation's.
  const carol = await browser.newContext();
  const c = await carol.newPage();
  await open(c);
  await chooseName(c, unique("carol"));
  await waitConnected(c);
  await searchField(c).fill(word);
  await expect(results(c)).toHaveCount(1);
  await expect(results(c).first()).toContainText("meeting notes");
  await expect(c.getByText("secret")).toHaveCount(0);
  await searchField(c).fill("zzqx nothing like it");
  await expect(c.getByText("No messages match “zzqx nothing like it”.")).toBeVisible();

  // A click opens the message in its channel, in view and highlighted.
  await results(a).nth(1).getByRole("button").click();
  await expect(a).toHaveURL(new RegExp(`/c/${channel}/\\d+$`));
  const hit = messages(a).getByRole("article").filter({ hasText: "meeting notes" });
  await expect(hit).toHaveClass(/focused/);
  await expect(hit).toBeInViewport();
  await carol.close();
  await alice.close();
  await bob.close();
});
