// Signing out: this browser forgets who it was; "everywhere" signs out
// every browser of that user at once; a conversation link starts nothing
// until the visitor asks.
import { test, expect } from "@playwright/test";
import { aliceAndBob, chooseName, messages, open, unique, waitConnected } from "./helpers";

test("sign out asks first, then this browser is back at the name prompt, also after a reload", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await open(page);
  const name = unique("leaving");
  await chooseName(page, name);
  await waitConnected(page);
  // Declining the question changes nothing.
  page.once("dialog", (dialog) => dialog.dismiss());
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page.locator(".me-name")).toHaveText(name);
  // Accepting it: the question says what it means.
  let asked = "";
  page.once("dialog", (dialog) => {
    asked = dialog.message();
    return dialog.accept();
  });
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page.getByLabel("Display name")).toBeVisible();
  expect(asked).toContain("no passwords");
  await page.reload();
  await expect(page.locator("html[data-hydrated]")).toBeAttached();
  await expect(page.getByLabel("Display name")).toBeVisible();
  expect(await page.evaluate(() => localStorage.getItem("flack.display_name"))).toBeNull();
  await context.close();
});

test("sign out everywhere signs out the user's other browsers at once, and no one else", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  // Alice's second browser: the same session (her cookie and storage).
  const again = await browser.newContext({ storageState: await alice.storageState() });
  const a2 = await again.newPage();
  await open(a2);
  await waitConnected(a2);
  a.once("dialog", (dialog) => dialog.accept());
  await a.getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(a.getByLabel("Display name")).toBeVisible();
  await expect(a2.getByLabel("Display name")).toBeVisible({ timeout: 10_000 });
  await expect(a2.getByText("You were signed out.")).toBeVisible();
  await waitConnected(b);
  await expect(b.locator(".me-name")).not.toHaveText("");
  await again.close();
  await alice.close();
  await bob.close();
});

test("a link to a conversation never started starts nothing until the visitor clicks Start", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const bobName = (await b.locator(".me-name").textContent()) ?? "";
  await a.goto(`/dm/${encodeURIComponent(bobName)}`);
  await expect(a.getByRole("heading", { level: 1 })).toHaveText(`@${bobName}`);
  await expect(messages(a).getByRole("article")).toHaveCount(0);
  const listed = await (await b.request.post("/api/list_conversations", { data: {} })).json();
  expect(listed).toEqual([]);
  await a.getByRole("button", { name: "Start conversation" }).click();
  await a.getByRole("textbox", { name: "Message" }).fill("hello from a link");
  await a.getByRole("textbox", { name: "Message" }).press("Enter");
  await expect(messages(a).getByRole("article").filter({ hasText: "hello from a link" })).toHaveCount(1);
  const opened = await (await b.request.post("/api/list_conversations", { data: {} })).json();
  expect(opened.length).toBe(1);
  await alice.close();
  await bob.close();
});
