// batchlake dashboard: start a run with an operator key (kept in sessionStorage) and
// follow a running run. No framework, no CDN.
(function () {
  "use strict";
  var KEY = "batchlake-operator-key";
  var form = document.getElementById("start-run");
  if (form) {
    var input = document.getElementById("operator-key");
    var message = document.getElementById("run-message");
    input.value = sessionStorage.getItem(KEY) || "";
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      sessionStorage.setItem(KEY, input.value.trim());
      message.textContent = "starting…";
      fetch("/api/v1/runs", {
        method: "POST",
        headers: { "Authorization": "Bearer " + input.value.trim(), "Content-Type": "application/json" },
        body: "{}"
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (answer) {
        if (answer.ok) {
          window.location.href = "/runs/" + encodeURIComponent(answer.body.run_id);
        } else {
          message.textContent = answer.body.error || "the run did not start";
          message.className = "error";
        }
      }).catch(function (error) { message.textContent = String(error); message.className = "error"; });
    });
  }
  var status = document.getElementById("run-status");
  if (status) {
    var text = status.textContent.trim();
    if (text === "running" || text === "starting…") {
      setTimeout(function () { window.location.reload(); }, 1000);
    }
  }
})();
