// Hostile input renders as text and runs nothing; the page's security
// headers hold, and the app works under its own Content-Security-Policy.
import { test, expect, type Page } from "@playwright/test";
import { chooseName, createChannel, messages, open, send, unique, waitConnected } from "./helpers";

/** Payloads that execute if any user text reaches the DOM as HTML. */
const XSS = [
  `<script>window.__pwned="script"</script>`,
  `<img src=x onerror="window.__pwned='img'">`,
  `<svg onload="window.__pwned='svg'">`,
  `<iframe src="javascript:window.parent.__pwned='iframe'">`,
  `"><script>window.__pwned='attr'</script>`,
  `<a href="javascript:window.__pwned='link'">click</a>`,
  `<details open ontoggle="window.__pwned='details'">`,
  `<style>body{display:none}</style>`,
  `{{constructor.constructor('window.__pwned=1')()}}`,
];

/** Records dialogs and CSP violations a page reports. */
function watch(page: Page) {
  const seen = { dialogs: 0, cspViolations: [] as string[] };
  page.on("dialog", async (d) => {
    seen.dialogs += 1;
    await d.dismiss();
  });
  page.on("console", (m) => {
    if (/Content.Security.Policy/i.test(m.text())) seen.cspViolations.push(m.text());
  });
  return seen;
}

test("an XSS corpus in names, channel names and messages is shown as text and runs nothing", async ({ browser }) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const seen = watch(page);
  await open(page);
  await chooseName(page, `<img src=x onerror=alert(1)>${unique("")}`.slice(0, 32));
  const channel = `<svg onload=alert(2)>${unique("")}`;
  await createChannel(page, channel);
  await waitConnected(page);
  for (const payload of XSS) await send(page, payload);
  const log = messages(page);
  await expect(log.getByRole("article")).toHaveCount(XSS.length);
  await expect(log.getByRole("article").locator(".body")).toHaveText(XSS);
  await expect(page.locator("main img, main script, main svg, main iframe, main details, main style, nav svg")).toHaveCount(0);
  await expect(page.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: channel })).toBeVisible();

  // A second viewer, getting the server-rendered page, is safe as well.
  const other = await ctx.newPage();
  const seenByOther = watch(other);
  await other.goto(page.url());
  await expect(messages(other).getByRole("article")).toHaveCount(XSS.length);
  await expect(other.locator("html[data-hydrated]")).toBeAttached();
  for (const p of [page, other]) {
    expect(await p.evaluate(() => (window as any).__pwned)).toBeUndefined();
    await expect(p.locator("body")).toBeVisible();
  }
  expect(seen.dialogs + seenByOther.dialogs).toBe(0);
  expect([...seen.cspViolations, ...seenByOther.cspViolations]).toEqual([]);
  await ctx.close();
});

test("pages carry a strict Content-Security-Policy and the app runs under it", async ({ page }) => {
  const seen = watch(page);
  const response = await page.goto("/");
  const headers = response!.headers();
  const csp = headers["content-security-policy"];
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=_-]+' 'wasm-unsafe-eval'/);
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain("unsafe-inline");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBeTruthy();
  await expect(page.locator("html[data-hydrated]")).toBeAttached();
  await chooseName(page, unique("csp"));
  await createChannel(page, unique("csp"));
  await waitConnected(page);
  await send(page, "hello under CSP");
  await expect(messages(page).getByRole("article")).toHaveCount(1);
  expect(seen.cspViolations).toEqual([]);
  // Each page gets a fresh nonce.
  const again = await page.request.get("/");
  expect(again.headers()["content-security-policy"]).not.toBe(csp);
});

test("a burst beyond the message rate is throttled, and every message still arrives once", async ({ page }) => {
  await open(page);
  await chooseName(page, unique("flood"));
  await createChannel(page, unique("flood"));
  await waitConnected(page);
  const count = 40; // the default burst is 30
  const box = page.getByRole("textbox", { name: "Message" });
  for (let i = 1; i <= count; i++) {
    await box.fill(`burst ${i}`);
    await box.press("Enter");
  }
  const bodies = messages(page).getByRole("article").locator(".body");
  await expect(bodies).toHaveCount(count, { timeout: 20_000 });
  await expect(messages(page).locator("article.pending")).toHaveCount(0);
  const texts = await bodies.allInnerTexts();
  expect(new Set(texts).size).toBe(count);
});
