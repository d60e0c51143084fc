// The console in a real browser: Debian's chromium driven by playwright-core (both installed by
// scripts/install-browser), run by crates/e2e/tests/console.rs against the real storefront.
//
// Environment: CONSOLE_URL, COMPONENTS (comma-separated, each must be drawn and up),
// DLQ_SEQ and DLQ_COMPONENT (a dead letter the test made), PLAYWRIGHT_DIR, CHROMIUM,
// MANDATE_CONSOLE_SCREENSHOT (optional: where to save the map).
// Protocol with the test: one JSON line per step on stdout. At {"step":"place-order"} the test
// places an order and answers with its id on stdin; at {"step":"break-an-order"} it gets an
// order stuck behind a dead letter (see console.rs) and answers with that letter's DLQ
// sequence. Any failure exits 1 saying what it saw.

import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const require = createRequire(`${env("PLAYWRIGHT_DIR")}/`);
const { chromium } = require("playwright-core");
const say = (step, extra = {}) => console.log(JSON.stringify({ step, ...extra }));
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const browser = await chromium.launch({ executablePath: env("CHROMIUM"), args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
page.on("dialog", (d) => d.accept());
const text = async (selector) => (await page.textContent(selector)) ?? "";

try {
  // 1. The map: every component of the running storefront drawn and up, from live figures.
  await page.goto(env("CONSOLE_URL"));
  await page.waitForSelector("#map[data-ready]");
  for (const name of env("COMPONENTS").split(",")) {
    await page.waitForSelector(`.node[data-component="${name}"][data-health="up"]`, { timeout: 30_000 });
  }
  await page.waitForSelector('.node[data-component="gateway"]');
  say("map", { components: await page.$$eval(".node", (nodes) => nodes.map((n) => n.dataset.component)) });

  // 2. An order placed is reflected live: the orders stream grows and its deliveries flow to shipping.
  const orders = '.node[data-component="orders"]';
  await page.waitForSelector(`${orders}[data-stream-messages]`);
  const before = Number(await page.getAttribute(orders, "data-stream-messages"));
  say("place-order", { before });
  const orderId = (await lines.next()).value.trim();
  const flowed = page.waitForFunction(
    () => Number(document.querySelector('.edge[data-edge="EVT_ORDERS->shipping"]')?.dataset.rate) > 0,
    null, { timeout: 30_000, polling: 50 });
  await page.waitForFunction(
    ([selector, n]) => Number(document.querySelector(selector)?.dataset.streamMessages) > n,
    [orders, before], { timeout: 30_000 });
  await flowed;
  const after = Number(await page.getAttribute(orders, "data-stream-messages"));
  say("order-live", { before, after });

  const screenshot = process.env.MANDATE_CONSOLE_SCREENSHOT;
  if (screenshot) {
    await page.screenshot({ path: screenshot });
    say("screenshot", { path: screenshot });
  }

  // 3. The order's journey: every step from placed to completed, in time order, the page
  // asking again as the order moves on (live).
  await page.click('nav button[data-view="journey"]');
  await page.fill("#journey-id", orderId);
  await page.click('#journey-form button[type="submit"]');
  await page.waitForSelector('#journey-steps tr[data-type="orders.completed.v1"]', { timeout: 30_000 });
  const journey = await page.$$eval("#journey-steps tbody tr", (rows) => rows.map((r) => ({
    type: r.dataset.type, cells: [...r.children].map((c) => c.textContent),
  })));
  say("journey", { order: orderId, steps: journey });
  await page.click('nav button[data-view="map"]');

  // 4. A component's page: its instances' admin status, consumers, endpoints with their
  // $SRV.STATS (orders.place.v1 was just called), and the event just placed.
  await page.click(orders);
  await page.waitForFunction(() => document.querySelector("#component h2")?.textContent === "orders");
  const panel = await text("#component");
  for (const expected of ["orders.p0of3", "orders.p2of3", "EVT_PAYMENTS", "svc.orders.place.v1", "evt.orders.placed"]) {
    if (!panel.includes(expected)) throw new Error(`the orders page lacks ${expected}:\n${panel}`);
  }
  say("component", { shows: "orders" });
  await page.click("#component button");

  // 5. Dead letters: the test's letter in its component's group, inspected, retried.
  const seq = env("DLQ_SEQ");
  const component = env("DLQ_COMPONENT");
  await page.click('nav button[data-view="dead-letters"]');
  const letter = `[data-letter="${seq}"]`;
  await page.waitForSelector(letter, { timeout: 30_000 });
  const group = await page.$eval(letter, (el) => el.closest(".group").dataset.group);
  if (!group.startsWith(`${component}/`)) throw new Error(`DLQ #${seq} is in group ${group}, not ${component}'s`);
  await page.click(`${letter} button.inspect`);
  await page.waitForSelector("#dlq-letter:not([hidden])");
  const inspected = await text("#dlq-letter");
  if (!inspected.includes(`DLQ #${seq}`) || !inspected.includes("original: ") || !inspected.includes("headers:")) {
    throw new Error(`inspecting DLQ #${seq} showed:\n${inspected}`);
  }
  say("inspected", { group, inspected });
  await page.click(`${letter} button.retry`);
  await page.waitForFunction((s) => document.getElementById("dlq-message").textContent.startsWith(`retried DLQ #${s}`), seq);
  await page.waitForSelector(letter, { state: "detached" });
  say("retried", { message: await text("#dlq-message") });

  // 6. Purge a component's dead letters, confirmed in the dialog.
  await page.click(`[data-group^="${component}/"] button.danger`);
  await page.waitForFunction(() => document.getElementById("dlq-message").textContent.startsWith("purged "));
  say("purged", { message: await text("#dlq-message") });

  // 7. The bulk redrive of a group, from the page: the test gets an order stuck behind a dead
  // letter of a broken component, fixes the component, and the page redrives the group, one
  // canary first, to the end.
  say("break-an-order");
  const stuck = (await lines.next()).value.trim();
  await page.click("#dlq-refresh");
  const stuckLetter = `[data-letter="${stuck}"]`;
  await page.waitForSelector(stuckLetter, { timeout: 30_000 });
  // Locators, not handles: the list is drawn again whenever the live figures change.
  const stuckGroup = page.locator(`#dlq-groups .group:has(${stuckLetter})`);
  await stuckGroup.locator("input.canary").fill("1");
  await stuckGroup.locator("input.rate").fill("5");
  await stuckGroup.locator("button.redrive").click();
  await page.waitForSelector('#redrive .redrive-status[data-phase="completed"]', { timeout: 60_000 });
  const redriven = await page.$eval("#redrive .redrive-status", (el) => ({ ...el.dataset, text: el.textContent }));
  if (redriven.canary !== "applied" || redriven.done !== "1") throw new Error(`the redrive ended ${JSON.stringify(redriven)}`);
  await page.waitForSelector(stuckLetter, { state: "detached" });
  say("redriven", { letter: stuck, ...redriven });

  // 8. Replay a component, followed live to the end.
  await page.click('nav button[data-view="replay"]');
  await page.selectOption("#replay-component", "shipping");
  await page.click('#replay-form button[type="submit"]');
  await page.waitForSelector('#replay-phase[data-phase="done"]', { timeout: 60_000 });
  const progress = await text("#replay-progress");
  if (progress.includes("null") || progress.includes("undefined")) throw new Error(`the replay shows ${progress}`);
  say("replayed", { progress: await text("#replay-phase") });

  if (errors.length) throw new Error(`the page threw: ${errors.join("; ")}`);
  say("done");
} catch (err) {
  await page.screenshot({ path: process.env.FAILURE_SCREENSHOT ?? "/tmp/console-failure.png" }).catch(() => {});
  console.error(`console.mjs: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  process.exit();
}
