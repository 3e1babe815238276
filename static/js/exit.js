// Quick exit: the button, and Shift pressed three times in a row (each within five
// seconds of the last), hide the page at once and leave through /exit, which signs out,
// clears site data and redirects to a neutral site. location.replace() swaps the
// current history entry, so Back does not return here.
(function () {
  "use strict";
  var button = document.getElementById("quick-exit");
  if (!button) { return; }
  var exitUrl = button.getAttribute("data-exit-url") || button.href;
  var SHIFT_WINDOW_MS = 5000;
  var presses = [];

  function leave(event) {
    if (event) { event.preventDefault(); }
    document.documentElement.classList.add("exiting");
    // A section being read aloud (static/js/listen.js) falls silent at once, not when the next page comes.
    if (window.speechSynthesis) { window.speechSynthesis.cancel(); }
    document.title = "";
    window.location.replace(exitUrl);
  }

  button.addEventListener("click", leave);

  document.addEventListener("keydown", function (event) {
    // Any other key in between (typing a capital letter) starts the count again.
    if (event.key !== "Shift") { presses = []; return; }
    if (event.repeat) { return; }
    var now = Date.now();
    if (presses.length && now - presses[presses.length - 1] > SHIFT_WINDOW_MS) {
      presses = [];
    }
    presses.push(now);
    if (presses.length >= 3) {
      presses = [];
      leave();
    }
  });
})();
