// A comment being written keeps itself as a draft every few seconds while someone writes: the form is posted,
// as its "Keep as a draft" button posts it, to the server, which keeps it sealed for its writer alone
// (council/feedback/drafts.py). Nothing is kept in the browser: no storage, no cookie, and nothing is asked on
// leaving, so the quick exit (static/js/exit.js) leaves at once and shows nothing of it.
(function () {
  "use strict";
  var form = document.querySelector("form[data-draft-url]");
  if (!form || !window.fetch || !window.FormData) { return; }
  var status = form.querySelector("[data-draft-status]");
  var url = form.getAttribute("data-draft-url");
  var EVERY_MS = 5000;
  var changed = false;
  var sending = false;
  var leaving = false;

  function say(text) {
    // Only a new message is written: the status line is announced, and the same words every few seconds would
    // interrupt someone listening to what they wrote.
    if (status && text && status.textContent !== text) { status.textContent = text; }
  }

  function keep() {
    if (!changed || sending || leaving || document.documentElement.classList.contains("exiting")) { return; }
    changed = false;
    sending = true;
    window.fetch(url, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      // A signed-out session answers with the sign-in page: that is not a kept draft.
      redirect: "error",
      headers: {"X-Council-Draft": "auto", "Accept": "application/json"}
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) { throw new Error("not kept"); }
      return response.json();
    }).then(function (answer) {
      say(answer.message);
    }).catch(function () {
      say(form.getAttribute("data-draft-failed"));
      changed = true;
    }).then(function () {
      sending = false;
    });
  }

  form.addEventListener("input", function () { changed = true; });
  form.addEventListener("change", function () { changed = true; });
  form.addEventListener("submit", function () { leaving = true; });
  window.setInterval(keep, EVERY_MS);
})();
