// The search page's "Filters" panel in Debian's Chromium, driven by the puppeteer-core that
// Lighthouse brings (scripts/tools.sh lighthouse). Prints one JSON line of what it saw.
//   node tests/search/filters_panel.cjs <puppeteer-core dir> <results page url>
const puppeteer = require(process.argv[2]);

(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROME_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless=new", "--disable-dev-shm-usage"],
  });
  const page = await browser.newPage();
  await page.setJavaScriptEnabled(false); // the panel must open without the site's scripts
  const seen = {};
  const look = () =>
    page.evaluate(() => {
      const button = document.querySelector(".filters-button");
      const panel = document.querySelector("#search-filters");
      const firstHit = document.querySelector(".search-hit");
      return {
        buttonShown: getComputedStyle(button).display !== "none",
        buttonAboveResults: button.getBoundingClientRect().bottom <= firstHit.getBoundingClientRect().top,
        panelShown: getComputedStyle(panel).display !== "none",
      };
    });
  await page.setViewport({ width: 390, height: 844 });
  await page.goto(process.argv[3], { waitUntil: "load" });
  seen.phone = await look();
  await page.click(".filters-button");
  seen.phoneOpen = await look();
  await page.click(".search-facets__done");
  seen.phoneClosed = await look();
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(process.argv[3], { waitUntil: "load" });
  seen.desktop = await look();
  console.log(JSON.stringify(seen));
  await browser.close();
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
