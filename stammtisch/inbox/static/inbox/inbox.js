// The inbox's keyboard shortcuts and small helpers. Everything works without JavaScript, too.
//   j / k: next / previous conversation (opens it beside the list)
//   r: write a reply (Ctrl+Enter sends it), e: mark done (or reopen), a: choose whom to assign
// Keys are ignored while typing in a field; Escape leaves the field.
(() => {
  function rows() {
    return [...document.querySelectorAll("[data-inbox-row]")];
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const current = all.findIndex((row) => row.classList.contains("selected"));
    const next = all[Math.min(all.length - 1, Math.max(0, current < 0 ? 0 : current + step))];
    all.forEach((row) => row.classList.remove("selected"));
    next.classList.add("selected");
    const link = next.querySelector("a");
    if (link) {
      link.focus();
      link.click();
    }
  }

  function typing(target) {
    return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target instanceof HTMLTextAreaElement) {
      // Ctrl+Enter (Cmd+Enter) sends the form the text belongs to: a reply or a note.
      event.preventDefault();
      event.target.form?.requestSubmit();
      return;
    }
    if (event.key === "Escape" && typing(event.target)) {
      event.target.blur();
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
    const detail = document.getElementById("inbox-detail");
    if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      move(event.key === "j" ? 1 : -1);
    } else if (event.key === "r") {
      const text = detail && detail.querySelector("[data-reply-text]");
      if (text) {
        event.preventDefault();
        text.focus();
      }
    } else if (event.key === "e") {
      const button = detail && detail.querySelector('button[data-shortcut="e"]');
      if (button) {
        event.preventDefault();
        button.click();
      }
    } else if (event.key === "a") {
      const select = detail && detail.querySelector('select[data-shortcut="a"]');
      if (select) {
        event.preventDefault();
        select.focus();
      }
    }
  });

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLSelectElement)) return;
    if (target.hasAttribute("data-saved-replies")) {
      // Insert the saved reply (its variables already filled in for this person) at the cursor.
      const option = target.selectedOptions[0];
      const text = target.form && target.form.querySelector("[data-reply-text]");
      if (option && option.dataset.text && text) {
        const start = text.selectionStart ?? text.value.length;
        const end = text.selectionEnd ?? text.value.length;
        text.value = text.value.slice(0, start) + option.dataset.text + text.value.slice(end);
        text.focus();
      }
      target.value = "";
    } else if (target.hasAttribute("data-autosubmit-htmx") && target.form) {
      target.form.requestSubmit();
    }
  });

  // Keep the selected row in step with the conversation htmx loaded.
  document.addEventListener("htmx:afterSwap", (event) => {
    const article = event.target instanceof HTMLElement && event.target.querySelector("[data-conversation]");
    if (!article) return;
    const id = article.getAttribute("data-conversation");
    rows().forEach((row) => {
      const link = row.querySelector("a");
      row.classList.toggle("selected", Boolean(link && link.getAttribute("hx-get")?.endsWith(`/inbox/${id}/`)));
    });
  });
})();
