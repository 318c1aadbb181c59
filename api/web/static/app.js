// Personas dashboard: progressive enhancements only. Every page reads and works without it.
(function () {
  "use strict";

  // Copy buttons: data-copy names the element whose text is copied.
  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var el = document.querySelector(btn.getAttribute("data-copy"));
      if (!el || !navigator.clipboard) return;
      navigator.clipboard.writeText(el.textContent.trim()).then(function () {
        var old = btn.textContent;
        btn.textContent = "Copied";
        setTimeout(function () { btn.textContent = old; }, 1500);
      });
    });
  });

  // Typed confirmation: the delete button stays disabled until the name matches (the server
  // checks it again).
  document.querySelectorAll("[data-confirm]").forEach(function (input) {
    var form = input.form;
    var btn = form && form.querySelector("button[type=submit]");
    if (!btn) return;
    var want = input.getAttribute("data-confirm");
    var check = function () { btn.disabled = input.value.trim() !== want; };
    input.addEventListener("input", check);
    check();
  });

  // Live deletion status: poll the API until the deletion is done or failed.
  var box = document.querySelector("[data-poll]");
  if (!box) return;
  var status = document.getElementById("deletion-status");
  if (!status || status.textContent === "done" || status.textContent === "failed") return;
  var url = box.getAttribute("data-poll");
  var fmt = function (s) {
    if (!s) return null;
    // The server's format: "23 Nov 2026, 21:48 UTC".
    var d = new Date(s);
    var m = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getUTCMonth()];
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getUTCDate() + " " + m + " " + d.getUTCFullYear() + ", " + two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + " UTC";
  };
  var set = function (id, text) {
    var el = document.getElementById(id);
    if (el && text) el.textContent = text;
  };
  var tick = function () {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (d) {
        status.textContent = d.status;
        status.className = "status status-" + d.status;
        set("deletion-step", d.step && d.status !== "done" ? "(step: " + d.step + ")" : " ");
        set("deletion-started", fmt(d.started_at));
        set("key-destroyed", fmt(d.key_destroyed_at));
        set("deletion-finished", fmt(d.finished_at));
        var list = document.getElementById("deletion-counts");
        var keys = Object.keys(d.counts || {}).sort();
        if (list && keys.length) {
          list.textContent = "";
          keys.forEach(function (k) {
            var li = document.createElement("li");
            var name = document.createElement("span");
            name.textContent = k.replace(/_/g, " ");
            var n = document.createElement("strong");
            n.textContent = Number(d.counts[k]).toLocaleString();
            li.append(name, " ", n);
            list.append(li);
          });
        }
        if (d.status === "done") {
          var link = document.getElementById("receipt-link");
          if (link) link.hidden = false;
          return;
        }
        if (d.status !== "failed") setTimeout(tick, 1000);
      })
      .catch(function () { setTimeout(tick, 3000); });
  };
  setTimeout(tick, 500);
})();
