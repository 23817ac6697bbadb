// The composer's first comment: shown while a ticked channel can post one (or while it holds
// text, so nothing typed is hidden), with a note naming the ticked channels that cannot.
// Without JavaScript the field is always shown and the checks name those channels.
(() => {
  function update() {
    const field = document.querySelector("[data-first-comment-field]");
    const boxes = [...document.querySelectorAll('input[name="channels"][data-name]')];
    if (!field || !boxes.length) return;
    const ticked = boxes.filter((box) => box.checked);
    const able = ticked.filter((box) => box.hasAttribute("data-first-comment"));
    const text = field.querySelector("textarea");
    field.hidden = !able.length && !(text && text.value.trim());
    const note = field.querySelector("[data-first-comment-missing]");
    if (!note) return;
    const without = ticked.filter((box) => !box.hasAttribute("data-first-comment")).map((box) => box.dataset.name);
    note.textContent = without.length ? note.dataset.template.replace("%(channels)s", without.join(", ")) : "";
  }
  document.addEventListener("change", (event) => {
    if (event.target instanceof HTMLInputElement && event.target.name === "channels") update();
  });
  document.addEventListener("DOMContentLoaded", update);
})();
