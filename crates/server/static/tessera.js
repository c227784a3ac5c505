// Tessera admin UI: progressive enhancement only; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // New Access Token: fill in the default name ("Application - User - Role") until it is typed.
  const form = document.getElementById("new-token");
  if (form) {
    const app = form.querySelector("#application");
    const grant = form.querySelector("#grant");
    const name = form.querySelector("#name");
    let typed = name.value !== "";
    let filled = name.value;
    name.addEventListener("input", () => { typed = name.value !== "" && name.value !== filled; });
    const fill = () => {
      if (typed) return;
      const a = app.selectedOptions[0];
      const g = grant.selectedOptions[0];
      if (a && a.value && g && g.value) {
        filled = `${a.textContent} - ${g.dataset.user} - ${g.dataset.role}`.slice(0, 100);
        name.value = filled;
      }
    };
    app.addEventListener("change", fill);
    grant.addEventListener("change", fill);
  }
  // Copy buttons beside credentials shown once.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    if (!field || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        button.textContent = "Copied";
      } catch {
        field.select();
      }
    });
  }
});
