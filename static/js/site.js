// Progressive enhancement only: every page works without this file.
// Sort selects submit their form on change, so the "Sort" button can be hidden.
document.documentElement.classList.add("js");
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) {
    select.form.requestSubmit();
  }
});

// Add to cart without a page reload. The form still works as a plain POST when this
// script does not run (the view redirects back with a message); here it is sent with
// fetch, asking for JSON, with the CSRF token in the X-CSRFToken header.
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form[data-add-to-cart]");
  if (!form || !window.fetch) {
    return;
  }
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  const status = form.querySelector("[data-add-to-cart-status]");
  const token = form.querySelector("input[name=csrfmiddlewaretoken]");
  button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json", "X-CSRFToken": token ? token.value : "" },
      credentials: "same-origin",
    });
    const data = await response.json();
    if (data.ok) {
      document.querySelectorAll("[data-cart-count]").forEach((badge) => {
        badge.hidden = data.count < 1;
        const value = badge.querySelector("[data-cart-count-value]");
        if (value) {
          value.textContent = data.count;
        }
      });
    }
    if (status) {
      status.textContent = data.ok ? data.message : data.error.message;
      status.classList.toggle("add-to-cart__status--error", !data.ok);
    }
  } catch (error) {
    // Not JSON or no network: fall back to the plain form POST.
    HTMLFormElement.prototype.submit.call(form);
    return;
  } finally {
    button.disabled = false;
  }
});
