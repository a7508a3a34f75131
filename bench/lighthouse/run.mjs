// One Lighthouse run for bench/lighthouse.py, with a signed-in phone's state.
//
//   node run.mjs '{"url": ..., "output": ..., "chromePath": ..., "chromeFlags": [...],
//                  "cookies": [{name, value, url}], "localStorage": {key: value},
//                  "categories": [...], "cpuSlowdown": 4 | {"calibrateTo": 438, "min": 1, "max": 4}}'
//
// Lighthouse's default mobile settings (simulated slow 4G, the CPU slowdown given). A
// calibrated slowdown is this browser's benchmark index (Lighthouse's own measure, taken
// here just before the run) divided by the index of the phone to emulate, within [min, max];
// the line printed on standard output says which index and slowdown were used. The
// session cookie goes into the browser's cookie jar and the app's remembered user into
// localStorage (set before any script of the page runs), as on a phone where someone
// has signed in; Lighthouse still clears the service worker and the caches, so the app
// shell is loaded from the network.
import fs from 'node:fs';
import * as chromeLauncher from 'chrome-launcher';
import puppeteer from 'puppeteer-core';
import lighthouse from 'lighthouse';
import { pageFunctions } from 'lighthouse/core/lib/page-functions.js';

const options = JSON.parse(process.argv[2]);
const chrome = await chromeLauncher.launch({ chromePath: options.chromePath, chromeFlags: options.chromeFlags });
let exitCode = 0;
try {
  const browser = await puppeteer.connect({ browserURL: `http://127.0.0.1:${chrome.port}`, defaultViewport: null });
  const page = (await browser.pages())[0] || await browser.newPage();
  if (options.cookies && options.cookies.length) await browser.setCookie(...options.cookies);
  if (options.localStorage && Object.keys(options.localStorage).length) {
    await page.evaluateOnNewDocument((entries) => {
      try {
        for (const [key, value] of Object.entries(entries)) localStorage.setItem(key, value);
      } catch (e) { /* about:blank has no storage */ }
    }, options.localStorage);
  }
  let cpuSlowdown = options.cpuSlowdown;
  let calibrationIndex = null;
  if (typeof cpuSlowdown === 'object') {
    calibrationIndex = await page.evaluate(pageFunctions.computeBenchmarkIndex);
    cpuSlowdown = Math.min(cpuSlowdown.max, Math.max(cpuSlowdown.min, calibrationIndex / cpuSlowdown.calibrateTo));
    cpuSlowdown = Math.round(cpuSlowdown * 100) / 100;
  }
  console.log(JSON.stringify({ calibrationIndex, cpuSlowdown }));
  const result = await lighthouse(options.url, {
    output: 'json',
    onlyCategories: options.categories,
    maxWaitForLoad: 60000,
    throttling: { cpuSlowdownMultiplier: cpuSlowdown },
    logLevel: 'error',
  }, undefined, page);
  fs.writeFileSync(options.output, result.report);
  await browser.disconnect();
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  await chrome.kill();
}
process.exit(exitCode);
