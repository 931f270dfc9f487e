// Screenshots of the staff report pages in Debian's Chromium, driven by the puppeteer-core
// Lighthouse brings (scripts/tools.sh lighthouse). The staff session is handed to the browser
// as a cookie through the DevTools protocol (page.setCookie): no login form, no login link.
//   node scripts/screenshot_reports.cjs <puppeteer-core dir> <base url> <cookie name> <cookie value> <out dir>
const path = require("path");
const puppeteer = require(process.argv[2]);
const [base, cookieName, cookieValue, outDir] = process.argv.slice(3);

const SHOTS = [
  ["/admin/reports/performance/", "performance.png"],
  ["/admin/reports/sales/?days=90&grain=week", "sales.png"],
];

(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROME_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless=new", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 });
  await page.setCookie({ name: cookieName, value: cookieValue, url: base, httpOnly: true });
  for (const [pathname, file] of SHOTS) {
    const response = await page.goto(base + pathname, { waitUntil: "load" });
    if (response.status() !== 200 || !page.url().startsWith(base + pathname.split("?")[0])) {
      throw new Error(`${pathname}: status ${response.status()} at ${page.url()} (not signed in?)`);
    }
    await page.screenshot({ path: path.join(outDir, file), fullPage: true });
    console.log(path.join(outDir, file));
  }
  await browser.close();
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
