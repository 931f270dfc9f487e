// Progressive enhancement only: every page works without this file.
// Sort selects submit their form on change, so the "Sort" button can be hidden.
document.documentElement.classList.add("js");
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) {
    select.form.requestSubmit();
  }
});
