// Everyday polish: what a user notices in daily use.
import { test, expect } from "@playwright/test";
import { aliceAndBob, bothIn, messages, send, unique, waitConnected } from "./helpers";

test("a banner above the composer says the link is down and goes when it is back", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  await bothIn(a, b, unique("banner"));
  const banner = a.getByText("your messages will be sent when");
  await expect(banner).toHaveCount(0);
  await alice.setOffline(true);
  await expect(banner).toBeVisible();
  await send(a, "typed while away");
  await alice.setOffline(false);
  await waitConnected(a);
  await expect(banner).toHaveCount(0);
  await expect(messages(b).getByRole("article").filter({ hasText: "typed while away" })).toHaveCount(1);
  await alice.close();
  await bob.close();
});
