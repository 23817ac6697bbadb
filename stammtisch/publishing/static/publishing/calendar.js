// Drag and drop to reschedule on the calendar (month: another day, same time; week: another day
// and hour, same minutes). The page works without it: a post's page has a "Move" form with a
// date and time field, which is also the keyboard way. The server decides and explains refusals.
(() => {
  const root = document.querySelector("[data-calendar]");
  if (!root) return;
  const status = root.querySelector("[data-calendar-status]");
  let dragged = null;

  const say = (message, isError) => {
    status.textContent = message;
    status.classList.toggle("is-error", Boolean(isError));
  };
  const slotOf = (event) => event.target instanceof Element ? event.target.closest("[data-drop-date]") : null;
  const clearTargets = () => root.querySelectorAll(".is-over").forEach((el) => el.classList.remove("is-over"));

  root.addEventListener("dragstart", (event) => {
    const card = event.target instanceof Element ? event.target.closest("[data-move-url]") : null;
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.post);
    card.classList.add("is-dragging");
  });
  root.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("is-dragging");
    dragged = null;
    clearTargets();
  });
  root.addEventListener("dragover", (event) => {
    const slot = slotOf(event);
    if (!slot || !dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    if (!slot.classList.contains("is-over")) {
      clearTargets();
      slot.classList.add("is-over");
    }
  });
  root.addEventListener("dragleave", (event) => {
    const slot = slotOf(event);
    if (slot && !slot.contains(event.relatedTarget)) slot.classList.remove("is-over");
  });
  root.addEventListener("drop", (event) => {
    const slot = slotOf(event);
    if (!slot || !dragged) return;
    event.preventDefault();
    clearTargets();
    move(dragged, slot);
  });

  async function move(card, slot) {
    const [hour, minute] = card.dataset.time.split(":");
    const newHour = slot.dataset.dropHour !== undefined ? slot.dataset.dropHour.padStart(2, "0") : hour;
    const when = `${slot.dataset.dropDate}T${newHour}:${minute}`;
    const list = slot.querySelector("[data-cards]");
    if (!list || card.parentElement === list && newHour === hour) return;
    card.classList.add("is-saving");
    let result;
    try {
      const response = await fetch(card.dataset.moveUrl, {
        method: "POST",
        headers: { "X-CSRFToken": root.dataset.csrf, Accept: "application/json" },
        body: new URLSearchParams({ when }),
        credentials: "same-origin",
      });
      result = await response.json();
    } catch {
      result = { ok: false, message: root.dataset.errorText };
    }
    card.classList.remove("is-saving");
    if (result.ok) {
      card.dataset.time = result.time;
      const time = card.querySelector("time");
      if (time) {
        time.textContent = result.time;
        time.dateTime = result.scheduled_at;
      }
      // Keep the day's cards in time order.
      const later = [...list.children].find((other) => other !== card && other.dataset.time > result.time);
      list.insertBefore(card, later || null);
    }
    say(result.message || root.dataset.errorText, !result.ok);
  }
})();
