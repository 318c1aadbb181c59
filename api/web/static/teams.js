// The password meter of the link pages: the server's estimate (POST /v1/password-strength)
// as you type. Without JavaScript the form still works; the server checks the policy.
(function () {
  "use strict";
  var input = document.getElementById("password");
  var out = document.getElementById("strength");
  if (!input || !out || !document.querySelector("form[data-meter]")) return;
  var timer = null, seq = 0;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var mine = ++seq;
      fetch("/v1/password-strength", {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({password: input.value})})
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (mine !== seq) return;
          out.textContent = "Strength " + s.score + " of 4" + (s.ok ? " — good enough. " : " — not strong enough. ") + (s.hint || "");
          out.dataset.ok = s.ok ? "yes" : "no";
        })
        .catch(function () {});
    }, 150);
  });
})();
