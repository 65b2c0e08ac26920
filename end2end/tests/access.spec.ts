// Everything works from the keyboard, and times show in the viewer's zone.
import { test, expect } from "@playwright/test";
import { messages, open, send, unique, waitConnected, chooseName, createChannel } from "./helpers";

test("a user can sign in, create a channel and send using only the keyboard", async ({ page }) => {
  await open(page);
  const name = unique("keys");
  // The name field has focus on arrival.
  await expect(page.getByLabel("Display name")).toBeFocused();
  await page.keyboard.type(name);
  await page.keyboard.press("Enter");
  await expect(page.locator(".me-name")).toHaveText(name);

  /** Presses Tab until `target` has focus (bounded). */
  const tabTo = async (target: ReturnType<typeof page.getByRole>) => {
    for (let i = 0; i < 30; i++) {
      if (await target.evaluate((el) => el === document.activeElement)) return;
      await page.keyboard.press("Tab");
    }
    throw new Error("not reachable with Tab");
  };
  await tabTo(page.getByRole("textbox", { name: "Channel name" }));
  const channel = unique("keyboard");
  await page.keyboard.type(channel);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1 })).toContainText(channel);
  await waitConnected(page);
  await tabTo(page.getByRole("textbox", { name: "Message" }));
  await page.keyboard.type("typed, not clicked");
  await page.keyboard.press("Enter");
  await expect(messages(page).getByRole("article").filter({ hasText: "typed, not clicked" })).toHaveCount(1);
});

test("message times are shown in the viewer's time zone", async ({ browser }) => {
  // UTC+14: the local hour differs from the UTC hour at every moment.
  const ctx = await browser.newContext({ timezoneId: "Pacific/Kiritimati", locale: "en-GB" });
  const page = await ctx.newPage();
  await open(page);
  await chooseName(page, unique("zone"));
  await createChannel(page, unique("zone"));
  await waitConnected(page);
  await send(page, "what time is it?");
  const time = messages(page).getByRole("article").locator("time");
  await expect(time).toHaveCount(1);
  const iso = (await time.getAttribute("datetime"))!;
  const expected = new Date(iso).toLocaleTimeString("en-GB", {
    timeZone: "Pacific/Kiritimati",
    hour: "2-digit",
    minute: "2-digit",
  });
  await expect(time).toHaveText(expected);
  await ctx.close();
});
