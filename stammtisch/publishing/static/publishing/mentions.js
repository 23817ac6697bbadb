// Mention help: typing "@" in a text field with data-mentions-url shows handles this workspace
// knows (server-rendered options, see views.compose_mentions) as a listbox. Up and Down choose,
// Enter or Tab inserts, Escape closes; a click inserts too. Without JavaScript nothing is lost:
// mentions are typed by hand, as the help under the field explains.
(() => {
  const TOKEN = /(?:^|[^\w@/])@([\w.\-@]{0,60})$/;
  let list = null; // the one listbox, moved under the field being typed in
  let live = null; // announces how many suggestions there are
  let field = null; // the textarea the list belongs to
  let start = -1; // where the "@" of the mention being typed is
  let active = -1;
  let timer = null;
  let request = 0;

  function setup() {
    list = document.createElement("ul");
    list.id = "mention-suggestions";
    list.className = "mention-list";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    list.addEventListener("mousedown", (event) => {
      const option = event.target.closest("[role=option]");
      if (!option) return;
      event.preventDefault(); // keep the focus in the text
      insert(option);
    });
    live = document.createElement("p");
    live.className = "visually-hidden";
    live.setAttribute("aria-live", "polite");
    document.body.append(list, live);
  }

  function options() {
    return [...list.querySelectorAll("[role=option]")];
  }

  function close() {
    if (!list || list.hidden) return;
    list.hidden = true;
    list.replaceChildren();
    active = -1;
    if (field) {
      field.setAttribute("aria-expanded", "false");
      field.removeAttribute("aria-activedescendant");
    }
  }

  function highlight(index) {
    const all = options();
    if (!all.length) return;
    active = (index + all.length) % all.length;
    all.forEach((option, i) => {
      option.setAttribute("aria-selected", i === active ? "true" : "false");
      option.classList.toggle("is-active", i === active);
    });
    field.setAttribute("aria-activedescendant", all[active].id);
    all[active].scrollIntoView({ block: "nearest" });
  }

  function insert(option) {
    const mention = option.dataset.mention;
    const caret = field.selectionStart;
    const before = field.value.slice(0, start);
    const after = field.value.slice(caret).replace(/^[\w.\-@]*/, "");
    const spacer = after.startsWith(" ") ? "" : " ";
    field.value = before + mention + spacer + after;
    const position = before.length + mention.length + 1;
    field.setSelectionRange(position, position);
    close();
    field.dispatchEvent(new Event("input", { bubbles: true })); // the live checks run again
  }

  function tickedChannels(form) {
    if (!form) return [];
    return [...form.querySelectorAll('input[name="channels"]')]
      .filter((input) => input.type === "hidden" || input.checked)
      .map((input) => input.value);
  }

  async function suggest(target, prefix) {
    const params = new URLSearchParams({ q: prefix });
    tickedChannels(target.form).forEach((id) => params.append("channels", id));
    const mine = ++request;
    let html = "";
    try {
      const response = await fetch(`${target.dataset.mentionsUrl}?${params}`, { credentials: "same-origin" });
      if (!response.ok) return;
      html = await response.text();
    } catch {
      return;
    }
    if (mine !== request || field !== target || start < 0) return; // the user typed on
    if (!list) setup();
    list.innerHTML = html; // rendered and escaped by the server
    target.after(list);
    list.hidden = false;
    target.setAttribute("aria-controls", list.id);
    target.setAttribute("aria-expanded", "true");
    active = -1;
    target.removeAttribute("aria-activedescendant");
    const count = options().length;
    live.textContent = count ? `${count} ↑↓` : list.textContent.trim();
  }

  document.addEventListener("input", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLTextAreaElement) || !target.dataset.mentionsUrl || !event.isTrusted) return;
    const match = TOKEN.exec(target.value.slice(0, target.selectionStart));
    clearTimeout(timer);
    if (!match) {
      start = -1;
      close();
      return;
    }
    field = target;
    field.setAttribute("aria-autocomplete", "list");
    start = target.selectionStart - match[1].length - 1;
    timer = setTimeout(() => suggest(target, match[1]), 150);
  });

  document.addEventListener("keydown", (event) => {
    if (!list || list.hidden || event.target !== field) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      highlight(active + (event.key === "ArrowDown" ? 1 : -1) + (active < 0 && event.key === "ArrowUp" ? 1 : 0));
    } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0) {
      event.preventDefault();
      insert(options()[active]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      start = -1;
      close();
    }
  });

  document.addEventListener("focusout", (event) => {
    if (event.target === field) setTimeout(close, 150);
  });
})();
