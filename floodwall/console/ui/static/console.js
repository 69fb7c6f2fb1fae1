// Floodwall console: keyboard triage and the few state changes, through the REST API.
// Every POST carries the session's CSRF token in X-CSRF-Token (see console/auth.py).
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const flash = document.getElementById("flash");

  function say(text, bad) {
    if (!flash) return;
    flash.textContent = text;
    flash.className = bad ? "flash bad" : "flash";
    flash.hidden = false;
    clearTimeout(say.timer);
    say.timer = setTimeout(() => { flash.hidden = true; }, 6000);
  }

  async function post(url, body) {
    const answer = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    let data = null;
    try { data = await answer.json(); } catch (e) { data = null; }
    if (!answer.ok) {
      const detail = data && data.detail ? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)) : answer.statusText;
      throw new Error(answer.status + ": " + detail);
    }
    return data;
  }

  // No inline handlers (the CSP allows none): these forms only hold fields for the script.
  document.querySelectorAll("form.bulk, form.act").forEach((f) => {
    f.addEventListener("submit", (e) => e.preventDefault());
  });

  // -- the alert queue: j/k move, Enter opens, x picks, a acknowledges ----------------
  const queue = document.getElementById("queue");
  const rows = queue ? Array.from(queue.querySelectorAll("tbody tr[data-id]")) : [];
  let current = -1;
  function select(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, k) => r.classList.toggle("sel", k === current));
    rows[current].scrollIntoView({ block: "nearest" });
  }
  function picked() {
    const ids = rows.filter((r) => r.querySelector(".pick")?.checked).map((r) => r.dataset.id);
    if (!ids.length && current >= 0) ids.push(rows[current].dataset.id);
    return ids;
  }
  function updateCount() {
    const n = document.getElementById("bulk-count");
    if (n) n.textContent = rows.filter((r) => r.querySelector(".pick")?.checked).length + " selected";
  }
  document.getElementById("select-all")?.addEventListener("change", (e) => {
    rows.forEach((r) => { const c = r.querySelector(".pick"); if (c) c.checked = e.target.checked; });
    updateCount();
  });
  rows.forEach((r, i) => {
    r.querySelector(".pick")?.addEventListener("change", updateCount);
    r.addEventListener("click", (e) => { if (e.target.tagName !== "INPUT" && e.target.tagName !== "A") select(i); });
  });

  async function setStatus(ids, status) {
    const box = document.getElementById("bulk-comment");
    const comment = box ? box.value.trim() : "";
    if (!comment) { say("Write a comment first: every status change says why.", true); box?.focus(); return; }
    if (!ids.length) { say("Select one or more alerts first (x or the boxes).", true); return; }
    // One request per 500 alerts (POST /api/alerts/bulk/status): each alert is still its
    // own transaction and audit entry on the server, and the answer says per alert.
    let done = 0;
    const refused = [];
    for (let i = 0; i < ids.length; i += 500) {
      let answer;
      try {
        answer = await post("/api/alerts/bulk/status", { ids: ids.slice(i, i + 500), status, comment });
      } catch (err) { say("Refused: " + err.message, true); return; }
      for (const [id, result] of Object.entries(answer.results || {})) {
        if (result !== "changed") { refused.push(id.slice(0, 8) + ": " + result); continue; }
        done += 1;
        const row = rows.find((r) => r.dataset.id === id);
        if (row) row.querySelector(".status").textContent = status;
      }
    }
    if (refused.length) say(refused.length + " not changed (" + refused.slice(0, 3).join("; ") + ")", true);
    else if (done) say(done + " alert(s) now " + status.replace("_", " "));
    const single = document.getElementById("alert-status");
    if (single && done) window.location.reload();
  }
  document.querySelectorAll("form.bulk button[data-status]").forEach((b) => {
    b.addEventListener("click", () => {
      const form = b.closest("form");
      const ids = form.dataset.id ? [form.dataset.id] : picked();
      setStatus(ids, b.dataset.status);
    });
  });

  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (!rows.length || e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) {
      if (e.key === "Escape") t.blur();
      return;
    }
    if (e.key === "j") { select(current + 1); e.preventDefault(); }
    else if (e.key === "k") { select(current - 1); e.preventDefault(); }
    else if (e.key === "Enter" && current >= 0) { window.location.href = rows[current].dataset.href; }
    else if (e.key === "x" && current >= 0) {
      const c = rows[current].querySelector(".pick"); if (c) { c.checked = !c.checked; updateCount(); }
    } else if (e.key === "a") { setStatus(picked(), "acknowledged"); e.preventDefault(); }
  });

  // -- a held message: release or delete, with a reason ----------------------------
  document.querySelectorAll("form.act button[data-act]").forEach((b) => {
    b.addEventListener("click", async () => {
      const form = b.closest("form");
      const reason = document.getElementById("act-reason").value.trim();
      if (!reason) { say("Give a reason: it goes into the audit log.", true); return; }
      const act = b.dataset.act;
      try {
        await post("/api/quarantine/" + encodeURIComponent(form.dataset.id) + "/" + act, { reason });
        say(act === "release" ? "Released to the next hop." : "Deleted.");
        setTimeout(() => window.location.reload(), 600);
      } catch (err) { say("Refused: " + err.message, true); }
    });
  });
})();
