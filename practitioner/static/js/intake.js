// The patient's intake screens: a follow-up date ("When did you stop?") is shown only after the answer that asks for it.
// Without this script every follow-up is shown, labelled with the answer it belongs to; nothing here answers anything.
(function () {
  "use strict";

  function sync(form) {
    form.querySelectorAll("[data-when-for]").forEach(function (box) {
      var checked = form.querySelector('input[name="' + box.dataset.whenFor + '"]:checked');
      var wanted = !!checked && box.dataset.whenCodes.split(" ").indexOf(checked.value) !== -1;
      // A date with an error stays in view, so its message can be read and acted on.
      var show = wanted || box.classList.contains("intake-when--error");
      box.hidden = !show;
      box.disabled = !show;
      var note = box.querySelector(".intake-when__only");
      if (note) { note.hidden = show; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-intake-form]");
    if (!form) { return; }
    sync(form);
    form.addEventListener("change", function (event) {
      sync(form);
      // A question asked for again is answered now: its own message goes (a date's message stays until Next).
      var question = event.target.closest(".intake-question--error");
      if (question && event.target.type === "radio" && !question.querySelector(".intake-when--error")) {
        question.classList.remove("intake-question--error");
        question.querySelectorAll(":scope > .error").forEach(function (message) { message.hidden = true; });
        question.querySelectorAll("input[aria-invalid]").forEach(function (input) { input.removeAttribute("aria-invalid"); });
      }
    });
  });
})();
