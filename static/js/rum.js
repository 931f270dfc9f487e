// Real-user monitoring (docs/observability.md). The tag in base.html names the page's route,
// the sampling rate and, on a book page, the book. A sampled view sends its timings: TTFB,
// DOM ready, load from Navigation Timing, and LCP, INP, CLS where the browser has them. A
// book page always sends its book (product views are counted from here, not sampled). One
// sendBeacon per page, when it is hidden or left, so LCP, INP and CLS are final by then.
(() => {
  "use strict";
  const tag = document.currentScript;
  const data = tag ? tag.dataset : {};
  const rate = Number(data.sampleRate) || 0;
  const sampled = Math.random() < rate;
  const book = Number(data.bookId) || 0;
  if (!data.route || !data.endpoint || !navigator.sendBeacon || (!sampled && !book)) {
    return;
  }
  let lcp;
  let inp;
  let cls;
  let windowValue = 0;
  let windowStart = 0;
  let windowLast = 0;
  // Whether the browser offers entries of ``type``; without them that metric stays out of the beacon.
  const watch = (type, onEntry, options) => {
    try {
      new PerformanceObserver((list) => list.getEntries().forEach(onEntry)).observe({ type, buffered: true, ...options });
      return true;
    } catch (error) {
      return false;
    }
  };
  if (sampled) {
    watch("largest-contentful-paint", (entry) => { lcp = entry.startTime; });
    // INP as web-vitals approximates it: the longest interaction seen.
    const onEvent = (entry) => { if (entry.interactionId && !(entry.duration <= inp)) inp = entry.duration; };
    watch("event", onEvent, { durationThreshold: 40 });
    watch("first-input", onEvent);
    // CLS: the largest session window (shifts under 1 s apart, 5 s at most) without recent input.
    const hasLayoutShift = watch("layout-shift", (entry) => {
      if (entry.hadRecentInput) return;
      if (windowValue && entry.startTime - windowLast < 1000 && entry.startTime - windowStart < 5000) {
        windowValue += entry.value;
      } else {
        windowValue = entry.value;
        windowStart = entry.startTime;
      }
      windowLast = entry.startTime;
      if (windowValue > cls) cls = windowValue;
    });
    if (hasLayoutShift) cls = 0; // no shift at all is a perfect 0, not a missing value
  }
  // Milliseconds to a tenth; a value the server would refuse (over ten minutes) is left out.
  const ms = (value) => (value > 0 && value <= 6e5 ? Math.round(value * 10) / 10 : undefined);
  let sent = false;
  const send = () => {
    if (sent) return;
    sent = true;
    const beacon = { route: data.route, book: book || undefined };
    if (sampled) {
      const nav = (performance.getEntriesByType && performance.getEntriesByType("navigation")[0]) || {};
      const timings = {
        ttfb: ms(nav.responseStart - nav.startTime),
        dom_ready: ms(nav.domContentLoadedEventEnd),
        load: ms(nav.loadEventEnd),
        lcp: ms(lcp),
        inp: ms(inp),
        cls: cls >= 0 && cls <= 100 ? Math.round(cls * 1e4) / 1e4 : undefined,
      };
      if (Object.values(timings).some((value) => value !== undefined)) {
        const connection = navigator.connection && navigator.connection.effectiveType;
        Object.assign(beacon, timings, {
          rate,
          nav: ["navigate", "reload", "back_forward", "prerender"].includes(nav.type) ? nav.type : undefined,
          ect: ["slow-2g", "2g", "3g", "4g"].includes(connection) ? connection : undefined,
        });
      }
    }
    if (beacon.book || beacon.rate) navigator.sendBeacon(data.endpoint, JSON.stringify(beacon));
  };
  addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") send(); });
  addEventListener("pagehide", send);
})();
