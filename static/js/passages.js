// Pointing at words by selecting them: words selected in the section's text (the element marked
// data-passage-text) are written into the comment form's hidden selection fields, as offsets in the text's
// textContent, which is the plain text the server anchors passages in (council/feedback/passages.py). The
// list of sentences stays the way to point without a mouse or without this script.
(function () {
  "use strict";
  var text = document.querySelector("[data-passage-text]");
  var picker = document.querySelector("[data-passage-picker]");
  if (!text || !picker || !document.createRange || !window.getSelection) { return; }
  var start = picker.querySelector("input[name=selection_start]");
  var end = picker.querySelector("input[name=selection_end]");
  var exact = picker.querySelector("input[name=selection_exact]");
  var selected = picker.querySelector("[data-passage-selected]");
  var words = picker.querySelector("[data-passage-words]");
  var list = picker.querySelector("[data-passage-list]");

  function offsetIn(node, offset) {
    var range = document.createRange();
    range.selectNodeContents(text);
    range.setEnd(node, offset);
    return range.toString().length;
  }

  function show(picked) {
    words.textContent = "\u201c" + picked + "\u201d";
    selected.hidden = false;
    list.hidden = true;
    picker.open = true;
  }

  function pick() {
    var selection = window.getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) { return; }
    var range = selection.getRangeAt(0);
    if (!text.contains(range.startContainer) || !text.contains(range.endContainer)) { return; }
    var all = text.textContent;
    var from = offsetIn(range.startContainer, range.startOffset);
    var to = offsetIn(range.endContainer, range.endOffset);
    while (from < to && /\s/.test(all.charAt(from))) { from++; }
    while (to > from && /\s/.test(all.charAt(to - 1))) { to--; }
    if (from >= to) { return; }
    // The server counts characters (code points); the page counts UTF-16 units, two for an emoji.
    start.value = String(Array.from(all.slice(0, from)).length);
    end.value = String(Array.from(all.slice(0, to)).length);
    exact.value = all.slice(from, to);
    show(exact.value);
  }

  var waiting = null;
  document.addEventListener("selectionchange", function () {
    window.clearTimeout(waiting);
    waiting = window.setTimeout(pick, 250);
  });
  picker.querySelector("[data-passage-clear]").addEventListener("click", function () {
    start.value = end.value = exact.value = "";
    selected.hidden = true;
    list.hidden = false;
    var first = list.querySelector("input[type=radio]");
    if (first) { first.focus(); }
  });
  if (exact.value) { show(exact.value); }
}());
