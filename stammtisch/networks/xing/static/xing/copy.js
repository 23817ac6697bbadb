// "Copy text" on the assisted post page: copies the prepared text to the clipboard. Without
// JavaScript (or clipboard access) the text stays selectable in its read-only box.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.value);
    button.textContent = button.dataset.copiedLabel;
  } catch (error) {
    source.focus();
    source.select();
  }
});
