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
  var sending = false;
  var leaving = false;

  // The form's fields, as the page served them (asServed) or as they stand now: what was last kept is
  // compared with what stands now, so words typed before this script ran are kept too.
  function state(asServed) {
    var parts = [];
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.disabled || field.type === "submit" || field.type === "button") { return; }
      if (field.type === "checkbox" || field.type === "radio") {
        if (asServed ? field.defaultChecked : field.checked) { parts.push(field.name + "=" + field.value); }
      } else if (field.tagName === "SELECT") {
        var chosen = Array.prototype.filter.call(field.options, function (option) {
          return asServed ? option.defaultSelected : option.selected;
        });
        if (asServed && !chosen.length && field.options.length) { chosen = [field.options[0]]; }
        chosen.forEach(function (option) { parts.push(field.name + "=" + option.value); });
      } else {
        parts.push(field.name + "=" + (asServed ? field.defaultValue : field.value));
      }
    });
    return parts.join("&");
  }

  var kept = state(true);

  function say(text) {
    // Only a new message is written: the status line is announced, and the same words every few seconds would
    // interrupt someone listening to what they wrote.
    if (status && text && status.textContent !== text) { status.textContent = text; }
  }

  function keep() {
    if (sending || leaving || document.documentElement.classList.contains("exiting")) { return; }
    var now = state(false);
    if (now === kept) { return; }
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
      // Answered, kept or not (a refusal says why): the same words are not sent again until they change.
      kept = now;
      say(answer.message);
    }).catch(function () {
      say(form.getAttribute("data-draft-failed"));
    }).then(function () {
      sending = false;
    });
  }

  form.addEventListener("submit", function () { leaving = true; });
  window.setInterval(keep, EVERY_MS);
})();
