// Reported figures, not assertions: how fast the server-rendered page
// arrives and how soon it is interactive (hydrated), in Chromium on
// loopback. BENCHMARKS.md records them.
import { test, expect } from "@playwright/test";
import { chooseName, createChannel, open, send, unique, waitConnected } from "./helpers";

test("first HTML and hydration times are reported", async ({ browser }) => {
  const ctx = await browser.newContext();
  const setup = await ctx.newPage();
  await open(setup);
  await chooseName(setup, unique("perf"));
  const channel = unique("perf");
  await createChannel(setup, channel);
  await waitConnected(setup);
  for (let i = 0; i < 20; i++) await send(setup, `history line ${i}`);

  // Records when the app marks itself hydrated, from inside the page.
  await ctx.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.documentElement?.hasAttribute("data-hydrated")) {
        (window as any).__hydratedAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-hydrated"] });
  });

  const html: number[] = [];
  const hydrated: number[] = [];
  for (let run = 0; run < 5; run++) {
    const page = await ctx.newPage();
    await page.goto(`/c/${channel}`);
    await expect(page.locator("html[data-hydrated]")).toBeAttached();
    const timing = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
      return { html: nav.responseEnd - nav.requestStart, hydrated: (window as any).__hydratedAt as number };
    });
    html.push(timing.html);
    hydrated.push(timing.hydrated);
    await page.close();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const report = `channel page with 20 messages: first HTML ${median(html).toFixed(1)} ms, hydrated ${median(hydrated).toFixed(1)} ms (median of 5)`;
  console.log(report);
  test.info().annotations.push({ type: "performance", description: report });
  expect(hydrated.every((t) => t > 0)).toBe(true);
  await ctx.close();
});
