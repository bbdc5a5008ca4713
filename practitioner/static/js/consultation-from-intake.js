// The consultation started from an intake: a question's "give the reason" box shows only once the practitioner's
// answer differs from the patient's (it stays open when it holds a reason or an error). Nothing is ever answered here.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("details[data-patient-answer]").forEach(function (box) {
      var question = box.closest("fieldset.question");
      if (!question) { return; }
      function sync() {
        var checked = question.querySelector(".segmented input:checked");
        var differs = checked !== null && checked.value !== box.dataset.patientAnswer;
        var kept = box.querySelector("input") && box.querySelector("input").value !== "";
        box.hidden = !(differs || kept || box.querySelector(".error"));
        if (differs) { box.open = true; }
      }
      question.addEventListener("change", sync);
      sync();
    });
  });
})();
