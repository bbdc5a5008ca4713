// Progressive enhancement of the capture form: a preview of each photo chosen, before it is saved.
// The form works without this file (a plain multipart POST); nothing here is needed to take a photo.
(function () {
  "use strict";
  document.querySelectorAll(".capture-input input[type=file]").forEach(function (input) {
    var preview = document.createElement("img");
    preview.className = "capture-input__preview";
    preview.alt = "";
    preview.hidden = true;
    input.insertAdjacentElement("afterend", preview);
    input.addEventListener("change", function () {
      if (preview.src) { URL.revokeObjectURL(preview.src); }
      var file = input.files && input.files[0];
      // HEIC files are not shown by most browsers: they are kept as chosen, only without a preview.
      if (file && /^image\/(jpeg|png|webp|gif)$/.test(file.type)) {
        preview.src = URL.createObjectURL(file);
        preview.alt = "Chosen for " + (input.labels && input.labels[0] ? input.labels[0].textContent.trim() : "this view");
        preview.hidden = false;
      } else {
        preview.removeAttribute("src");
        preview.hidden = true;
      }
    });
  });
})();
