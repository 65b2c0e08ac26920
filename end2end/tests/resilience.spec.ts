// The link drops: nothing typed is lost, nothing shows twice, and the
// status says what is going on.
import { test, expect } from "@playwright/test";
import { aliceAndBob, bothIn, messages, send, unique, waitConnected } from "./helpers";

test("messages sent while offline wait, then appear exactly once for everyone", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  await bothIn(a, b, unique("flaky"));

  await alice.setOffline(true);
  await expect(a.getByRole("status")).toHaveText(/Offline/);
  await send(a, "sent while offline 1");
  await send(a, "sent while offline 2");
  const pending = messages(a).locator("article.pending");
  await expect(pending).toHaveCount(2);
  await expect(pending.first()).toContainText("Sending");
  await expect(messages(b).getByRole("article").filter({ hasText: "sent while offline" })).toHaveCount(0);

  await alice.setOffline(false);
  await waitConnected(a);
  for (const page of [a, b]) {
    for (const text of ["sent while offline 1", "sent while offline 2"]) {
      await expect(messages(page).getByRole("article").filter({ hasText: text })).toHaveCount(1);
    }
  }
  await expect(pending).toHaveCount(0);
  const order = await messages(b).getByRole("article").locator(".body").allInnerTexts();
  expect(order).toEqual(["sent while offline 1", "sent while offline 2"]);
  // Still exactly once later: a message sent after them (a fence) arrives
  // behind anything late, and nothing was replayed twice.
  await send(b, "fence");
  for (const page of [a, b]) {
    await expect(messages(page).getByRole("article").filter({ hasText: "fence" })).toHaveCount(1);
    await expect(messages(page).getByRole("article")).toHaveCount(3);
  }
  await alice.close();
  await bob.close();
});
