/* "Print card" on the activation-code page: the button appears only with JavaScript;
   without it the browser's own Print does the same (the print stylesheet shows only the card). */
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  });
})();
