// Real-user monitoring in Debian's Chromium, driven by the puppeteer-core Lighthouse brings
// (scripts/tools.sh lighthouse): for each page, load it, click its title (an interaction for
// INP), then leave it for about:blank, which fires pagehide and so the beacon.
// Prints one JSON line: the errors the pages raised (the server is asked what it received).
//   node tests/analytics/rum/rum_beacon.cjs <puppeteer-core dir> <page url>...
const puppeteer = require(process.argv[2]);

(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROME_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless=new", "--disable-dev-shm-usage"],
  });
  const seen = { errors: [] };
  const page = await browser.newPage();
  page.on("pageerror", (error) => seen.errors.push(String(error)));
  page.on("console", (message) => message.type() === "error" && seen.errors.push(message.text()));
  for (const url of process.argv.slice(3)) {
    await page.goto(url, { waitUntil: "load" });
    await page.click("h1");
    await page.goto("about:blank", { waitUntil: "load" });
  }
  console.log(JSON.stringify(seen));
  await browser.close();
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
