// Listen: reads the section aloud with the browser's own speech synthesis, on this device only.
//
// The controls come from the <template data-listen-controls> the page renders (templates/macros/listen.html),
// with their words already in the page's language; without JavaScript, or without speech synthesis, nothing
// is shown. What is read: every element marked data-listen that is shown now (not inside a closed <details>
// or a hidden element), in the page's order: the heading, "In short", the full text once opened, or an Easy
// Read version, which marks its own block the same way. Each paragraph is read in its own language (the
// nearest lang attribute), by a voice of this device whose language matches. A voice that lives on a
// server (localService false) would send the text there, so it is never used: with no local voice for the
// text's language, the button says so and stays disabled. Nothing is fetched and nothing is stored.
(function () {
  "use strict";
  var template = document.querySelector("template[data-listen-controls]");
  var synth = window.speechSynthesis;
  if (!template || !synth || !window.SpeechSynthesisUtterance) { return; }

  // Browsers stop an utterance after some seconds (Chrome about fifteen): the text goes in pieces this long.
  var PIECE = 200;
  var BLOCKS = "p, li, h1, h2, h3, h4, h5, h6, blockquote, dt, dd, td, th";

  template.parentNode.insertBefore(template.content.cloneNode(true), template.nextSibling);
  var controls = template.nextElementSibling;
  var play = controls.querySelector("[data-listen-play]");
  var stop = controls.querySelector("[data-listen-stop]");
  var speed = controls.querySelector("[data-listen-speed]");
  var status = controls.querySelector("[data-listen-status]");
  var words = template.dataset;
  var mainLang = languageOf(template);

  var pieces = [];
  var index = 0;
  var current = null;
  var state = "waiting";

  function languageOf(element) {
    var marked = element.closest("[lang]");
    return (marked ? marked.getAttribute("lang") : document.documentElement.lang || "").toLowerCase();
  }

  function primary(lang) {
    return lang.replace("_", "-").split("-")[0].toLowerCase();
  }

  function voiceFor(lang) {
    var local = synth.getVoices().filter(function (voice) { return voice.localService; });
    var exact = local.filter(function (voice) { return voice.lang.replace("_", "-").toLowerCase() === lang; });
    var near = local.filter(function (voice) { return primary(voice.lang) === primary(lang); });
    var found = exact.length ? exact : near;
    var preferred = found.filter(function (voice) { return voice["default"]; });
    return preferred[0] || found[0] || null;
  }

  function shown(element) {
    return !element.closest("details:not([open]) > :not(summary), [hidden]");
  }

  function paragraphs(block) {
    var inner = Array.prototype.filter.call(block.querySelectorAll(BLOCKS), function (element) {
      return !element.querySelector(BLOCKS);
    });
    return inner.length ? inner : [block];
  }

  function sentences(text, lang) {
    if (window.Intl && Intl.Segmenter) {
      var segmenter = new Intl.Segmenter(lang || undefined, { granularity: "sentence" });
      return Array.from(segmenter.segment(text), function (part) { return part.segment; });
    }
    return text.match(/[^.!?\u061f\u3002]+[.!?\u061f\u3002]*\s*/g) || [text];
  }

  // Sentences gathered into pieces of at most PIECE characters; a longer sentence is cut between words.
  function cut(text, lang) {
    var found = [];
    var piece = "";
    sentences(text, lang).forEach(function (sentence) {
      while (sentence.length > PIECE) {
        var at = sentence.lastIndexOf(" ", PIECE);
        if (at <= 0) { at = PIECE; }
        found.push(sentence.slice(0, at));
        sentence = sentence.slice(at);
      }
      if ((piece + sentence).length > PIECE) {
        found.push(piece);
        piece = "";
      }
      piece += sentence;
    });
    found.push(piece);
    return found.map(function (part) { return part.trim(); }).filter(Boolean);
  }

  function collect() {
    var found = [];
    document.querySelectorAll("[data-listen]").forEach(function (block) {
      if (!shown(block)) { return; }
      paragraphs(block).forEach(function (paragraph) {
        if (!shown(paragraph)) { return; }
        var lang = languageOf(paragraph);
        var voice = voiceFor(lang);
        if (!voice) {  // a heading in another language than the text: read by the text's voice
          lang = mainLang;
          voice = voiceFor(mainLang);
        }
        var text = paragraph.textContent.replace(/\s+/g, " ").trim();
        cut(text, lang).forEach(function (part) { found.push({ text: part, lang: lang, voice: voice }); });
      });
    });
    return found;
  }

  function show(next) {
    var stopHadFocus = document.activeElement === stop;
    state = next;
    play.disabled = state === "waiting" || state === "no-voice";
    play.textContent = {
      "no-voice": words.sayNoVoice, speaking: words.sayPause, paused: words.sayResume
    }[state] || words.sayListen;
    stop.hidden = state !== "speaking" && state !== "paused";
    speed.parentNode.hidden = state === "no-voice";
    status.textContent = { speaking: words.sayReading, paused: words.sayPaused }[state] || "";
    if (stop.hidden && stopHadFocus) { play.focus(); }
  }

  function speakCurrent() {
    if (index >= pieces.length) { finish(); return; }
    var piece = pieces[index];
    var utterance = new SpeechSynthesisUtterance(piece.text);
    utterance.lang = piece.lang;
    utterance.voice = piece.voice;
    utterance.rate = Number(speed.value);
    // Events of an utterance already replaced (stopped, or spoken again at a new speed) are ignored.
    utterance.addEventListener("start", function () { if (utterance === current) { show("speaking"); } });
    utterance.addEventListener("pause", function () { if (utterance === current) { show("paused"); } });
    utterance.addEventListener("resume", function () { if (utterance === current) { show("speaking"); } });
    utterance.addEventListener("end", function () {
      if (utterance !== current) { return; }
      index += 1;
      speakCurrent();
    });
    utterance.addEventListener("error", function () { if (utterance === current) { finish(); } });
    current = utterance;
    synth.speak(utterance);
  }

  function finish() {
    current = null;
    synth.cancel();
    show(voiceFor(mainLang) ? "idle" : "no-voice");
  }

  function start() {
    pieces = collect();
    index = 0;
    synth.cancel();
    show("speaking");
    speakCurrent();
  }

  play.addEventListener("click", function () {
    if (state === "idle") {
      start();
    } else if (state === "speaking") {
      synth.pause();
      show("paused");
    } else if (state === "paused") {
      synth.resume();
      show("speaking");
    }
  });
  stop.addEventListener("click", finish);
  speed.addEventListener("change", function () {
    // While speaking, the piece being read starts again at the new speed; while paused, the next one takes it.
    if (state !== "speaking") { return; }
    current = null;
    synth.cancel();
    speakCurrent();
  });
  // Nothing goes on speaking once the page is left (the quick exit silences it at once too: static/js/exit.js).
  window.addEventListener("pagehide", function () { current = null; synth.cancel(); });

  // Voices may arrive after the page: decided when the list comes, or after a second with none.
  function decide() {
    if (state === "waiting" || state === "idle" || state === "no-voice") {
      show(voiceFor(mainLang) ? "idle" : "no-voice");
    }
  }
  show("waiting");
  if (synth.getVoices().length) {
    decide();
  } else {
    window.setTimeout(decide, 1000);
  }
  synth.addEventListener("voiceschanged", decide);
})();
