// Drive `voxmcp web` in headless Debian chromium with a WAV as the microphone.
// usage: node drive_page.mjs <config.json>
//   config: {pageUrl, wav, expect (regex source), timeoutMs, userDataDir, waitGreeting}
// Prints one JSON line: {ok, error?, transcript, toolCalls, states, errors, timings}
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const t0 = Date.now();
const timings = {};
const mark = (name) => { timings[name] = Date.now() - t0; };
const deadline = t0 + cfg.timeoutMs;
const left = () => Math.max(1000, deadline - Date.now());

const args = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream", `--use-file-for-fake-audio-capture=${cfg.wav}%noloop`,
  "--autoplay-policy=no-user-gesture-required",
];
const context = await chromium.launchPersistentContext(cfg.userDataDir, {
  executablePath: cfg.executablePath || "/usr/bin/chromium", headless: true, args, timeout: 60000,
});
const result = { ok: false, transcript: [], toolCalls: [], states: [], errors: [], console: [], timings };
try {
  const page = context.pages()[0] || (await context.newPage());
  page.on("console", (msg) => { if (msg.type() === "error" || msg.type() === "warning") result.console.push(msg.text()); });
  page.on("pageerror", (err) => result.console.push(`pageerror: ${err.message}`));
  await page.goto(cfg.pageUrl, { timeout: 30000 });
  await page.evaluate(() => {
    window.__states = [];
    const el = document.getElementById("agent-state");
    new MutationObserver(() => window.__states.push([performance.now(), el.dataset.state]))
      .observe(el, { attributes: true, attributeFilter: ["data-state"] });
  });
  if (!cfg.micOnJoin) await page.uncheck("#mic-on-join");
  mark("page_loaded");
  await page.click("#start");
  await page.waitForFunction(() => window.voxmcp.room && window.voxmcp.room.state === "connected"
    || window.voxmcp.errors.length > 0, null, { timeout: left() });
  const early = await page.evaluate(() => window.voxmcp.errors.slice());
  if (early.length) throw new Error(`page error: ${early.join("; ")}`);
  mark("joined");
  if (cfg.waitGreeting) {
    await page.waitForFunction(() => window.voxmcp.transcript.some((e) => e.who === "agent" && e.text.trim()),
      null, { timeout: left() });
    mark("greeting_text");
    await page.waitForFunction(() => window.voxmcp.state === "listening", null, { timeout: left() });
    mark("greeting_done");
  }
  const before = await page.evaluate(() => window.voxmcp.transcript.length);
  if (!cfg.micOnJoin) { await page.click("#mic"); mark("mic_on"); }
  const re = cfg.expect;
  await page.waitForFunction(([re, before]) => {
    const rx = new RegExp(re, "i");
    // a finished agent segment: a match on a half-streamed sentence is not the answer yet
    return window.voxmcp.transcript.slice(before).some((e) => e.who === "agent" && e.final && rx.test(e.text));
  }, [re, before], { timeout: left(), polling: 200 });
  mark("answer_seen");
  result.ok = true;
} catch (err) {
  result.error = String(err && err.message ? err.message : err).slice(0, 2000);
} finally {
  try {
    const page = context.pages()[0];
    Object.assign(result, await page.evaluate(() => ({
      transcript: window.voxmcp.transcript, toolCalls: window.voxmcp.toolCalls, errors: window.voxmcp.errors,
      states: window.__states || [], statusText: document.getElementById("status").textContent,
      transcriptText: document.getElementById("transcript").innerText,
    })));
    if (cfg.screenshot) await page.screenshot({ path: cfg.screenshot, fullPage: true });
  } catch (_) { /* page gone */ }
  await context.close().catch(() => {});
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
