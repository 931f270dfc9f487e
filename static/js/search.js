// Search-as-you-type for the header search box. Progressive enhancement: without this
// file the box is a plain GET form to /search/. From the second letter it asks
// /search/autocomplete (debounced, stale requests aborted) and shows titles and authors
// in an ARIA combobox listbox: Up/Down move, Enter opens the active suggestion (or
// searches), Escape closes, a click or tap opens.
(() => {
  "use strict";
  const input = document.getElementById("site-search");
  const list = document.getElementById("site-search-suggestions");
  if (!input || !list || !input.dataset.autocompleteUrl || !window.fetch) {
    return;
  }
  const MIN_LENGTH = 2;
  // The server reads at most the box's maxlength (SEARCH_MAX_QUERY_LENGTH); a longer value
  // (a bookmarked search filled in, a script) is cut here too, so the request stays short.
  const MAX_LENGTH = input.maxLength > 0 ? input.maxLength : 200;
  const DELAY_MS = 150;
  let timer = 0;
  let controller = null;
  let options = [];
  let active = -1;

  function close() {
    list.hidden = true;
    list.replaceChildren();
    options = [];
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function setActive(index) {
    options.forEach((option, i) => option.setAttribute("aria-selected", i === index ? "true" : "false"));
    active = index;
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function addGroup(label) {
    const heading = document.createElement("li");
    heading.className = "search__group";
    heading.setAttribute("role", "presentation");
    heading.textContent = label;
    list.append(heading);
  }

  function addOption(url, text, detail) {
    const option = document.createElement("li");
    option.id = `site-search-option-${options.length}`;
    option.className = "search__option";
    option.setAttribute("role", "option");
    option.setAttribute("aria-selected", "false");
    option.dataset.url = url;
    const main = document.createElement("span");
    main.textContent = text; // textContent, never innerHTML: titles are data, not markup
    option.append(main);
    if (detail) {
      const small = document.createElement("span");
      small.className = "search__option-detail";
      small.textContent = detail;
      option.append(small);
    }
    // mousedown, not click: it fires before the input loses focus and closes the list.
    option.addEventListener("mousedown", (event) => {
      event.preventDefault();
      window.location.assign(url);
    });
    list.append(option);
    options.push(option);
  }

  function render(data) {
    list.replaceChildren();
    options = [];
    active = -1;
    if (data.titles.length) {
      addGroup("Books");
      data.titles.forEach((item) => addOption(item.url, item.title, item.authors.join(", ")));
    }
    if (data.authors.length) {
      addGroup("Authors");
      data.authors.forEach((item) => addOption(item.url, item.name, ""));
    }
    if (!options.length) {
      close();
      return;
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function typedText() {
    return input.value.trim().slice(0, MAX_LENGTH);
  }

  async function suggest(text) {
    if (controller) {
      controller.abort();
    }
    controller = new AbortController();
    const url = `${input.dataset.autocompleteUrl}?q=${encodeURIComponent(text)}`;
    try {
      const response = await fetch(url, { signal: controller.signal, headers: { Accept: "application/json" } });
      if (!response.ok) {
        close();
        return;
      }
      const data = await response.json();
      if (typedText() === text) {
        render(data);
      }
    } catch (error) {
      if (error.name !== "AbortError") {
        close();
      }
    }
  }

  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    const text = typedText();
    if (text.length < MIN_LENGTH) {
      if (controller) {
        controller.abort();
      }
      close();
      return;
    }
    timer = window.setTimeout(() => suggest(text), DELAY_MS);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && options.length) {
      event.preventDefault();
      setActive((active + 1) % options.length);
    } else if (event.key === "ArrowUp" && options.length) {
      event.preventDefault();
      setActive(active <= 0 ? options.length - 1 : active - 1);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      window.location.assign(options[active].dataset.url);
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      close();
    }
  });

  input.addEventListener("blur", () => window.setTimeout(close, 100));
})();
