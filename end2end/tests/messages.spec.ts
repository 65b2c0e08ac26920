// Your own messages, rich text and reactions, live in two browsers.
import { test, expect, type Page } from "@playwright/test";
import { aliceAndBob, bothIn, messages, send, unique, waitConnected } from "./helpers";

function article(page: Page, text: string) {
  return messages(page).getByRole("article").filter({ hasText: text });
}

test("authors edit and delete their own messages, live for everyone; others cannot", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  await bothIn(a, b, unique("edits"));
  await send(a, "helo wrold");
  await expect(article(b, "helo wrold")).toHaveCount(1);

  // Bob gets no controls on Alice's message.
  await expect(article(b, "helo wrold").getByRole("button", { name: "Edit message" })).toHaveCount(0);
  await expect(article(b, "helo wrold").getByRole("button", { name: "Delete message" })).toHaveCount(0);

  // Alice edits with the button: the field opens focused; Enter saves.
  await article(a, "helo wrold").hover();
  await article(a, "helo wrold").getByRole("button", { name: "Edit message" }).click();
  const field = a.getByRole("textbox", { name: "New text" });
  await expect(field).toBeFocused();
  await field.fill("hello **world**");
  await field.press("Enter");
  for (const page of [a, b]) {
    const edited = article(page, "hello world");
    await expect(edited.locator(".body strong")).toHaveText("world");
    await expect(edited.locator(".edited")).toHaveText("(edited)");
  }

  // Up in the empty composer edits the last message; Esc cancels.
  const composer = a.getByRole("textbox", { name: "Message" });
  await composer.click();
  await composer.press("ArrowUp");
  await expect(a.getByRole("textbox", { name: "New text" })).toHaveValue("hello **world**");
  await a.getByRole("textbox", { name: "New text" }).press("Escape");
  await expect(a.getByRole("textbox", { name: "New text" })).toHaveCount(0);
  await expect(article(a, "hello world").locator(".body strong")).toHaveText("world");

  // Delete, from the keyboard: the control is reachable by Tab and focus shows it.
  await send(a, "keep this one");
  const doomed = article(a, "hello world");
  await doomed.getByRole("button", { name: "Delete message" }).focus();
  await expect(doomed.getByRole("button", { name: "Delete message" })).toBeVisible();
  await a.keyboard.press("Enter");
  for (const page of [a, b]) {
    await expect(article(page, "hello world")).toHaveCount(0);
    await expect(article(page, "keep this one")).toHaveCount(1);
  }

  // After a reload (server-rendered history) the deletion and edit hold.
  await b.reload();
  await expect(b.locator("html[data-hydrated]")).toBeAttached();
  await expect(messages(b).getByRole("article")).toHaveCount(1);
  await alice.close();
  await bob.close();
});

test("a viewer who was offline during a delete and an edit sees both after resuming", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  await bothIn(a, b, unique("away"));
  await send(a, "first draft");
  await send(a, "soon gone");
  await expect(article(b, "soon gone")).toHaveCount(1);

  await bob.setOffline(true);
  await expect(b.getByRole("status")).toHaveText(/Offline/);
  await article(a, "soon gone").getByRole("button", { name: "Delete message" }).click();
  await article(a, "first draft").getByRole("button", { name: "Edit message" }).click();
  await a.getByRole("textbox", { name: "New text" }).fill("final text");
  await a.getByRole("button", { name: "Save" }).click();
  await expect(article(a, "final text")).toHaveCount(1);
  await expect(article(b, "soon gone")).toHaveCount(1);

  await bob.setOffline(false);
  await waitConnected(b);
  await expect(article(b, "soon gone")).toHaveCount(0);
  await expect(article(b, "final text").locator(".edited")).toHaveCount(1);
  await expect(messages(b).getByRole("article")).toHaveCount(1);
  await alice.close();
  await bob.close();
});

test("Markdown renders safely: formatting, code, quotes, lists and links that open in a new tab", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  await bothIn(a, b, unique("md"));
  await send(a, "**bold** _italic_ ~~gone~~ `x < y` see https://example.com/docs");
  await send(a, "> a quote");
  await send(a, "- one\n- two");
  await send(a, "```\nfn main() {}\n```");
  await send(a, "[bad](javascript:window.__pwned='md') and <b>not bold</b>");
  for (const page of [a, b]) {
    const rich = article(page, "bold");
    await expect(rich.locator(".body strong")).toHaveText("bold");
    await expect(rich.locator(".body em")).toHaveText("italic");
    await expect(rich.locator(".body del")).toHaveText("gone");
    await expect(rich.locator(".body code")).toHaveText("x < y");
    const link = rich.getByRole("link", { name: "https://example.com/docs" });
    await expect(link).toHaveAttribute("href", "https://example.com/docs");
    await expect(link).toHaveAttribute("target", "_blank");
    await expect(link).toHaveAttribute("rel", "noopener noreferrer");
    await expect(article(page, "a quote").locator(".body blockquote")).toHaveText("a quote");
    await expect(article(page, "one").locator(".body li")).toHaveText(["one", "two"]);
    await expect(article(page, "fn main").locator(".body pre code")).toHaveText("fn main() {}");
    const hostile = article(page, "not bold");
    await expect(hostile.getByRole("link")).toHaveCount(0);
    await expect(hostile.locator("b")).toHaveCount(0);
    await expect(hostile.locator(".body")).toContainText("<b>not bold</b>");
    expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  }
  await alice.close();
  await bob.close();
});

test("reactions: live counts, who reacted, one per person, and clicking your own removes it", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  await bothIn(a, b, unique("react"));
  await send(a, "react to this");
  const onB = article(b, "react to this");
  await onB.hover();
  await onB.getByRole("button", { name: "Add reaction" }).click();
  await b.getByRole("button", { name: "React with 👍" }).click();
  for (const page of [a, b]) {
    await expect(article(page, "react to this").getByRole("button", { name: /👍 1/ })).toBeVisible();
  }
  const bobName = (await b.locator(".me-name").textContent()) ?? "";
  const aliceName = (await a.locator(".me-name").textContent()) ?? "";
  const onA = article(a, "react to this").getByRole("button", { name: /👍/ });
  await expect(onA).toHaveAttribute("aria-label", new RegExp(bobName));
  await expect(onA).toHaveAttribute("aria-pressed", "false");

  // Alice adds hers by clicking Bob's: 2, naming both.
  await onA.click();
  for (const page of [a, b]) {
    const button = article(page, "react to this").getByRole("button", { name: /👍 2/ });
    await expect(button).toHaveAttribute("aria-label", new RegExp(`${bobName}.*${aliceName}`));
  }
  await expect(article(a, "react to this").getByRole("button", { name: /👍 2/ })).toHaveAttribute("aria-pressed", "true");

  // Clicking your own reaction removes it.
  await article(b, "react to this").getByRole("button", { name: /👍 2/ }).click();
  for (const page of [a, b]) {
    await expect(article(page, "react to this").getByRole("button", { name: /👍 1/ })).toHaveAttribute(
      "aria-label",
      new RegExp(aliceName),
    );
  }
  await waitConnected(b);
  await alice.close();
  await bob.close();
});

test("@mentions complete from known users ignoring case, are highlighted, and mark the message for who is mentioned", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  await bothIn(a, b, unique("mention"));
  const aliceName = (await a.locator(".me-name").textContent()) ?? "";
  const box = b.getByRole("textbox", { name: "Message" });
  await box.click();
  // Typed in capitals: completion ignores case.
  await box.pressSequentially(`hi @${aliceName.slice(0, -1).toUpperCase()}`);
  const list = b.getByRole("listbox", { name: "People to mention" });
  await expect(list.getByRole("option", { name: `@${aliceName}` })).toBeVisible();
  await expect(list.getByRole("option")).toHaveCount(1);
  await box.press("Escape");
  await expect(list).toHaveCount(0);
  await box.pressSequentially(aliceName.slice(-1));
  await expect(list.getByRole("option", { name: `@${aliceName}` })).toHaveAttribute("aria-selected", "true");
  await box.press("Enter"); // completes, does not send
  await expect(box).toHaveValue(`hi @${aliceName} `);
  await box.pressSequentially("look at this");
  await box.press("Enter");

  const forAlice = article(a, "look at this");
  await expect(forAlice.getByText("Mentions you")).toBeVisible();
  await expect(forAlice.locator(".mention")).toHaveText(`@${aliceName}`);
  await expect(article(b, "look at this").locator(".mention")).toHaveText(`@${aliceName}`);
  await expect(article(b, "look at this").getByText("Mentions you")).toHaveCount(0);
  await alice.close();
  await bob.close();
});

/** A 1×1 PNG. */
const DOT_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);

test("attachments: an upload shows progress, images preview for everyone, other files download, and too large is refused", async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  await bothIn(a, b, unique("files"));

  // Picked with the button; the upload is held back a moment so its progress bar shows.
  await a.route("**/api/upload**", async (route) => {
    await new Promise((r) => setTimeout(r, 700));
    await route.continue();
  });
  const chooser = a.waitForEvent("filechooser");
  await a.getByRole("button", { name: "Attach file" }).click();
  await (await chooser).setFiles([{ name: "dot.png", mimeType: "image/png", buffer: DOT_PNG }]);
  await expect(a.getByRole("progressbar", { name: "Uploading dot.png" })).toBeVisible();
  await expect(a.getByRole("button", { name: "Remove dot.png" })).toBeVisible();
  await a.unroute("**/api/upload**");
  await send(a, "here it is");
  for (const page of [a, b]) {
    const image = article(page, "here it is").getByRole("img", { name: "dot.png" });
    await expect(image).toBeVisible();
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(1);
  }

  // Dropped onto the composer: a text file becomes a download link.
  const dropped = await a.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(["hello, file"], "notes.txt", { type: "image/png" }));
    return dt;
  });
  await a.locator("form.composer").dispatchEvent("drop", { dataTransfer: dropped });
  await expect(a.getByRole("button", { name: "Remove notes.txt" })).toBeVisible();
  await a.getByRole("textbox", { name: "Message" }).press("Enter");
  const link = article(b, "notes.txt").getByRole("link", { name: /notes\.txt/ });
  await expect(link).toHaveAttribute("download", "notes.txt");
  await expect(article(b, "notes.txt")).toContainText("11 B");
  const response = await b.request.get((await link.getAttribute("href")) ?? "");
  expect(response.headers()["content-disposition"]).toContain("attachment");
  expect(response.headers()["content-type"]).toBe("application/octet-stream");
  expect(await response.text()).toBe("hello, file");

  // Too large: a clear refusal, nothing to send.
  const chooser2 = b.waitForEvent("filechooser");
  await b.getByRole("button", { name: "Attach file" }).click();
  await (await chooser2).setFiles([{ name: "huge.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(11 * 1024 * 1024, 1) }]);
  await expect(b.getByRole("alert").filter({ hasText: "huge.bin" })).toContainText("limit");
  await alice.close();
  await bob.close();
});
