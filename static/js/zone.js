// The time zone the browser reports, offered beside the time zone field on the account page: shown with its
// name from the list (in the page's language), and chosen only when the person presses "Use this time zone".
(function () {
  "use strict";
  var hint = document.getElementById("zone-suggestion");
  var select = document.getElementById("timezone");
  if (!hint || !select || !window.Intl) { return; }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  var aliases = {};
  try { aliases = JSON.parse(select.getAttribute("data-aliases") || "{}"); } catch (ignored) { aliases = {}; }
  zone = aliases[zone] || zone;
  var option = null;
  for (var i = 0; zone && i < select.options.length; i++) {
    if (select.options[i].value === zone) { option = select.options[i]; }
  }
  if (!option || select.value === zone) { return; }
  hint.querySelector("[data-zone-name]").textContent = option.textContent;
  hint.hidden = false;
  hint.querySelector("[data-use-zone]").addEventListener("click", function () {
    select.value = zone;
    hint.hidden = true;
    select.focus();
  });
}());
