// What a shopper reads on a page, for loadtest/scenarios.yml (docs/load-testing.md).
//
// readPage takes the links a person would click from the HTML just received (books,
// categories, authors, the next listing page) and the in-stock books whose card offers
// "Add to cart", and picks one of each at random for the next step. A page without such a
// link keeps the previous pick, so a flow never requests an empty URL. It also counts the
// HTTP cache's X-Cache-Status (nginx) per answer, for make capacity's hit rate.
"use strict";

const BOOK = /href="(\/books\/97[0-9]{11}\/[^"\/]+\/)"/g;
const CATEGORY = /href="(\/categories\/[^"]+\/)"/g;
const AUTHOR = /href="(\/authors\/[^"\/]+\/)"/g;
const PAGE = /href="(\/(?:books|categories\/[^"?]+)\/\?(?:[^"]*&amp;)?page=[0-9]+[^"]*)"/g;
const CARD = /<article class="book-card">([\s\S]*?)<\/article>/g;
const BOOK_ID = /name="book_id" value="([0-9]+)"/;
const CSRF = /name="csrfmiddlewaretoken" value="([^"]+)"/;
const SEARCH_SORTS = ["relevance", "price", "rating", "newest"];

function allMatches(pattern, text) {
  const found = [];
  for (const match of text.matchAll(pattern)) {
    found.push(match[1].replace(/&amp;/g, "&"));
  }
  return found;
}

function pick(values) {
  return values.length ? values[Math.floor(Math.random() * values.length)] : undefined;
}

// Book ids from the cards marked in stock: adding any other would be refused, rightly.
function inStockBookIds(html) {
  const ids = [];
  for (const card of html.matchAll(CARD)) {
    if (card[1].includes("badge--in")) {
      const id = BOOK_ID.exec(card[1]);
      if (id) ids.push(id[1]);
    }
  }
  return ids;
}

function countCacheStatus(response, events) {
  const status = response.headers["x-cache-status"];
  events.emit("counter", `cloudshelf.cache.${status ? status.toLowerCase() : "absent"}`, 1);
}

function readPage(requestParams, response, context, events, next) {
  countCacheStatus(response, events);
  const html = typeof response.body === "string" ? response.body : "";
  const vars = context.vars;
  const choices = {
    bookUrl: pick(allMatches(BOOK, html)),
    categoryUrl: pick(allMatches(CATEGORY, html)),
    authorUrl: pick(allMatches(AUTHOR, html)),
    // "Next" and the first few pages, as people page; not the jump to the last page.
    nextPageUrl: pick(allMatches(PAGE, html).filter((url) => Number(/page=([0-9]+)/.exec(url)[1]) <= 10)),
    inStockBookId: pick(inStockBookIds(html)),
  };
  for (const [name, value] of Object.entries(choices)) {
    if (value !== undefined) vars[name] = value;
  }
  // Defaults a first page always has in a seeded catalog; kept if a page offers nothing better.
  vars.bookUrl = vars.bookUrl || "/books/";
  vars.categoryUrl = vars.categoryUrl || "/books/";
  vars.authorUrl = vars.authorUrl || "/books/";
  vars.nextPageUrl = vars.nextPageUrl || "/books/?page=2";
  const token = CSRF.exec(html);
  if (token) vars.csrfToken = token[1];
  return next();
}

function countCache(requestParams, response, context, events, next) {
  countCacheStatus(response, events);
  return next();
}

// A form post that succeeded redirects; the same form shown again (200) was refused. Counted
// against the request's name; bench/loadtest_report.py takes it out of the successes.
function expectRedirect(requestParams, response, context, events, next) {
  if (response.statusCode < 300 || response.statusCode >= 400) {
    events.emit("counter", `cloudshelf.unexpected.${requestParams.name}`, 1);
  }
  return next();
}

function pickSearchSort(requestParams, context, events, next) {
  context.vars.searchSort = pick(SEARCH_SORTS);
  return next();
}

module.exports = { readPage, countCache, expectRedirect, pickSearchSort, inStockBookIds, allMatches, BOOK, CATEGORY, AUTHOR, PAGE };
