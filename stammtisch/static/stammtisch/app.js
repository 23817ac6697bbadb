// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  const box = document.createElement("p");
  box.className = "message message-error";
  box.setAttribute("role", "alert");
  box.textContent = document.documentElement.lang === "de"
    ? `Das hat nicht geklappt (Fehler ${status}). Bitte erneut versuchen.`
    : `That did not work (error ${status}). Please try again.`;
  document.querySelector("main")?.prepend(box);
});

// A select marked data-autosubmit submits its form on change (the form works without it, too).
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit")) {
    target.form?.submit();
  }
});
