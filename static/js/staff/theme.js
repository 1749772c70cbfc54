/* Light / dark / auto for the staff pages, shared with the Django admin: both keep the choice
   in localStorage "theme" and put it on <html data-theme>. Loaded in <head> so the first paint
   already has the right colours. */
(function () {
  "use strict";
  var MODES = ["auto", "light", "dark"];
  function current() {
    var mode = null;
    try { mode = localStorage.getItem("theme"); } catch (e) { /* private mode */ }
    return MODES.indexOf(mode) >= 0 ? mode : "auto";
  }
  function apply(mode) {
    document.documentElement.dataset.theme = mode;
    try { localStorage.setItem("theme", mode); } catch (e) { /* private mode */ }
    var labels = document.querySelectorAll(".dm-theme-label");
    for (var i = 0; i < labels.length; i++) labels[i].textContent = "Theme: " + mode;
  }
  apply(current());
  document.addEventListener("DOMContentLoaded", function () {
    apply(current());
    var buttons = document.querySelectorAll(".dm-theme-toggle");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function () {
        apply(MODES[(MODES.indexOf(current()) + 1) % MODES.length]);
        document.dispatchEvent(new CustomEvent("dm:theme"));
      });
    }
  });
})();
