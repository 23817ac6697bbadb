// A channel's own text starts from the post's text: an empty one is filled with it when the
// user starts editing it. Without JavaScript an empty channel text simply means the post's text.
document.addEventListener("focusin", (event) => {
  const field = event.target;
  if (!(field instanceof HTMLTextAreaElement) || !field.matches("[data-variant]") || field.value !== "") return;
  const base = document.getElementById(field.dataset.variant);
  if (base instanceof HTMLTextAreaElement) field.value = base.value;
});
