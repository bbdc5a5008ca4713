// Consultation form (and the session form's re-screen): a dated question shows its date only after the answer that asks for it, and each
// screening section offers an explicit "No to the rest" button. Nothing here ever answers a question
// on its own: the page works the same without it, every question then answered one by one.
(function () {
  "use strict";

  function checkedValue(form, name) {
    var checked = form.querySelector('input[name="' + name + '"]:checked');
    return checked ? checked.value : null;
  }

  function syncDates(form) {
    form.querySelectorAll(".question__date").forEach(function (box) {
      var wanted = checkedValue(form, box.dataset.dateFor) === box.dataset.dateWhen;
      var input = box.querySelector("input");
      // A date with an error stays in view so the message can be read and acted on.
      var show = wanted || box.classList.contains("field--error");
      box.hidden = !show;
      if (input) { input.disabled = !show; }
    });
  }

  function answerRestNo(section) {
    section.querySelectorAll(".segmented").forEach(function (group) {
      if (group.querySelector("input:checked")) { return; }
      // The answer that raises nothing: "No", or a choice question's first option ("No diabetes", "Never taken").
      var first = group.querySelector("input");
      if (!first) { return; }
      first = group.querySelector('input[value="no"]') || first;
      first.checked = true;
      first.dispatchEvent(new Event("input", { bubbles: true }));
      first.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    // The session form's re-screen uses the same questions and the same "No to the rest" button.
    var form = document.querySelector("form.form--consultation, form.form--session");
    if (!form) { return; }
    syncDates(form);
    form.addEventListener("change", function () { syncDates(form); });
    form.querySelectorAll("[data-no-to-rest]").forEach(function (button) {
      button.parentElement.hidden = false;
      button.addEventListener("click", function () {
        answerRestNo(button.closest("fieldset.section"));
        syncDates(form);
      });
    });
  });
})();
