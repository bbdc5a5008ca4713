// The consent signature box: the patient draws with a finger, pen or mouse; the drawing is sent as a PNG.
(function () {
  "use strict";
  var PNG_PREFIX = "data:image/png;base64,";

  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.querySelector("[data-signature-pad]");
    var input = document.getElementById("signature-data");
    var clear = document.querySelector("[data-signature-clear]");
    if (!canvas || !input || typeof window.SignaturePad !== "function") { return; }
    var form = input.form;
    var pad = new window.SignaturePad(canvas, {
      // An opaque background, so the stored image reads the same on screen, on paper and in a PDF.
      backgroundColor: "rgb(255, 255, 255)", penColor: "rgb(17, 24, 39)", minWidth: 1, maxWidth: 3.2
    });
    // After a refused form (a mistyped name, say) the server sends the drawing back: show it again.
    var restored = input.value.indexOf(PNG_PREFIX) === 0 ? input.value : "";
    var last = { width: 0, height: 0, ratio: 0 };

    // Size the bitmap to the box in device pixels (crisp on high-density screens) and keep the drawing,
    // scaled to the new width, because resizing a canvas wipes it.
    function fit() {
      var ratio = Math.max(window.devicePixelRatio || 1, 1);
      var width = canvas.offsetWidth, height = canvas.offsetHeight;
      if (!width || !height || (width === last.width && height === last.height && ratio === last.ratio)) { return; }
      var strokes = pad.toData();
      var scale = last.width ? width / last.width : 1;
      if (scale !== 1) {
        strokes.forEach(function (group) {
          group.points.forEach(function (point) { point.x *= scale; point.y *= scale; });
        });
      }
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.getContext("2d").scale(ratio, ratio);
      pad.clear();
      last = { width: width, height: height, ratio: ratio };
      if (restored) {
        // The image loads asynchronously: strokes drawn since go on top once it is painted.
        pad.fromDataURL(restored, { ratio: ratio, width: width, height: height }).then(function () {
          if (strokes.length) { pad.fromData(strokes, { clear: false }); }
        });
      } else if (strokes.length) {
        pad.fromData(strokes);
      }
    }

    fit();
    window.addEventListener("resize", fit);
    window.addEventListener("orientationchange", fit);

    if (clear) {
      clear.addEventListener("click", function () {
        pad.clear();
        restored = "";
        input.value = "";
      });
    }
    if (form) {
      form.addEventListener("submit", function () {
        input.value = pad.isEmpty() ? "" : pad.toDataURL("image/png");
      });
    }
  });
})();
