// Reading comfort: scrolling behaviour, narrow screens, dark mode.
import { test, expect } from "@playwright/test";
import { aliceAndBob, bothIn, chooseName, createChannel, messages, open, send, unique } from "./helpers";

test("the log follows new messages at the bottom and stays put when scrolled up", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser, { viewport: { width: 1000, height: 500 } });
  await bothIn(a, b, unique("scroll"));

  for (let i = 1; i <= 25; i++) await send(b, `filler ${i}`);
  const log = messages(a);
  await expect(log.getByRole("article")).toHaveCount(25);
  const distanceFromBottom = () => log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
  await expect.poll(distanceFromBottom).toBeLessThan(5);

  // Scrolled up to read: new messages do not move the view.
  await log.evaluate((el) => {
    el.scrollTop = 0;
    el.dispatchEvent(new Event("scroll"));
  });
  await send(b, "while you were reading");
  await expect(log.getByRole("article").filter({ hasText: "while you were reading" })).toHaveCount(1);
  expect(await log.evaluate((el) => el.scrollTop)).toBe(0);
  const jump = a.getByRole("button", { name: /New messages below/ });
  await expect(jump).toBeVisible();
  await jump.click();
  await expect.poll(distanceFromBottom).toBeLessThan(5);
  await alice.close();
  await bob.close();
});

test("on a phone's width the channel list folds behind the menu button", async ({ browser }) => {
  const channel = unique("mobile");
  const ctx = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  const page = await ctx.newPage();
  await open(page);
  await chooseName(page, unique("phone"));
  const nav = page.getByRole("navigation", { name: "Channels" });
  await expect(nav).toBeHidden();
  // Who you are and the connection state stay visible with the menu folded.
  await expect(page.locator(".me-name")).toBeVisible();
  await expect(page.getByRole("status")).toBeVisible();
  const menu = page.getByRole("button", { name: "Menu" });
  await menu.click();
  await expect(menu).toHaveAttribute("aria-expanded", "true");
  await createChannel(page, channel);
  await expect(nav).toBeHidden();
  await menu.click();
  await expect(nav.getByRole("link", { name: channel })).toBeVisible();
  await nav.getByRole("link", { name: channel }).click();
  await expect(nav).toBeHidden();
  await expect(page.getByRole("textbox", { name: "Message" })).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await ctx.close();
});

test("the page follows the system's dark preference", async ({ browser }) => {
  const background = async (scheme: "light" | "dark") => {
    const ctx = await browser.newContext({ colorScheme: scheme });
    const page = await ctx.newPage();
    await open(page);
    await chooseName(page, unique(scheme));
    const color = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await ctx.close();
    return color;
  };
  expect(await background("light")).toBe("rgb(255, 255, 255)");
  expect(await background("dark")).toBe("rgb(26, 29, 33)");
});
