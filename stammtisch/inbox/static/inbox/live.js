// Live updates of the inbox list (docs/inbox.md "Live updates"): htmx polls the list's poller
// and inserts new or updated conversations at the top. A conversation that moved up is then in
// the list twice: keep the new (first) row, drop the older one, and keep the selection.
(() => {
  function tidy() {
    const list = document.getElementById("inbox-rows");
    if (!list) return;
    const seen = new Set();
    let selected = null;
    for (const row of [...list.querySelectorAll("[data-inbox-row]")]) {
      if (seen.has(row.id)) {
        if (row.classList.contains("selected")) selected = row.id;
        row.remove();
      } else {
        seen.add(row.id);
      }
    }
    if (selected) document.getElementById(selected)?.classList.add("selected");
    if (seen.size) list.querySelector("[data-inbox-empty]")?.remove();
  }
  document.addEventListener("htmx:oobAfterSwap", tidy);
  document.addEventListener("htmx:afterSettle", tidy);
})();
