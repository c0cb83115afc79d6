// CivicLink console: small keyboard helpers. Everything works without this file; it only saves keystrokes.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
    // "/" jumps to the page's search box (as on most web tools); Ctrl+Enter submits the form being typed in.
    if (event.key === "/" && !typing) {
      var search = document.querySelector("form.search input[name=q]");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && typing && target.form) {
      event.preventDefault();
      target.form.requestSubmit();
    }
  });
  // An action opened with its access key gets the focus in its first input.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details.tagName === "DETAILS" && details.open && details.classList.contains("action")) {
      var first = details.querySelector("input:not([type=hidden]), select, textarea");
      if (first && document.activeElement && document.activeElement.tagName === "SUMMARY") first.focus();
    }
  }, true);
  // The triage panel's "采用" buttons copy a suggestion into the form; the operator still decides.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.fill");
    if (!button) return;
    var select = document.getElementById(button.dataset.fill);
    if (select) { select.value = button.dataset.value; select.dispatchEvent(new Event("change", {bubbles: true})); }
  });
  // 一键转接110 / 三方通话 appear when triage says the matter is (or may be) 110's.
  function showRouteActions() {
    var marker = document.getElementById("triage-route");
    var actions = document.getElementById("route-actions");
    if (!actions) return;
    var route = marker ? marker.dataset.route : "";
    actions.hidden = !(route === "110" || route === "joint" || route === "ambiguous");
    var refer = document.getElementById("refer-actions");
    if (refer) refer.hidden = route !== "not_accepted";
  }
  document.addEventListener("htmx:afterSwap", showRouteActions);
  document.addEventListener("DOMContentLoaded", showRouteActions);
})();
