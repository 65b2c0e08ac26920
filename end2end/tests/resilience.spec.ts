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

test("a channel whose creation answer was lost opens on retry; anyone else asking for it is still refused", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const channel = unique("lost");
  const form = (page: typeof a) => ({
    fill: (name: string) => page.getByLabel("Channel name").fill(name),
    create: () => page.getByRole("button", { name: "Create" }).click(),
    error: page.locator("#channel-name-error"),
  });

  // The request reaches the server, which makes the channel, but its
  // answer is lost: the browser hears what a server cut off from Redis says.
  await a.route(
    "**/api/create_channel",
    async (route) => {
      await route.fetch();
      await route.fulfill({
        status: 503,
        contentType: "application/json",
        body: JSON.stringify({
          code: "unavailable",
          message: "the shared store (Redis) is unreachable; try again in a moment",
        }),
      });
    },
    { times: 1 },
  );
  await form(a).fill(channel);
  await form(a).create();
  await expect(form(a).error).toContainText("try again in a moment");

  // A retry that hears channel_exists but cannot list the channels either
  // still does not know: it says so, and does not call the name taken.
  const unavailable = {
    status: 503,
    contentType: "application/json",
    body: JSON.stringify({ code: "unavailable", message: "the server cannot list channels now; try again" }),
  };
  await a.route("**/api/list_channels", (route) => route.fulfill(unavailable));
  await form(a).create();
  await expect(form(a).error).toContainText("cannot list channels now");
  await a.unroute("**/api/list_channels");

  // The next retry hears channel_exists for Alice's own channel: it opens it.
  await form(a).create();
  await expect(a.getByRole("heading", { level: 1 })).toContainText(channel);
  await expect(form(a).error).toBeEmpty();
  await expect(a.getByLabel("Channel name")).toHaveValue("");

  // The same name is still refused to Bob, and to Alice with no answer lost.
  await form(b).fill(channel);
  await form(b).create();
  await expect(form(b).error).toContainText("already exists");
  await form(a).fill(channel);
  await form(a).create();
  await expect(form(a).error).toContainText("already exists");
  const nav = a.getByRole("navigation", { name: "Channels" });
  await expect(nav.getByRole("link", { name: channel })).toHaveCount(1);
  await alice.close();
  await bob.close();
});
