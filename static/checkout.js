// Optional enhancements for the checkout pages; every page works without this file (then a
// <noscript> refresh updates them).
// - Waiting pages (body[data-status-url]) poll their status and reload when it changes.
// - Result pages (body[data-return-url]) send the buyer back to the merchant after a delay.
// - Copy buttons ([data-copy]) copy the text of the element they name.
(function () {
  "use strict";

  var body = document.body;
  var statusUrl = body.getAttribute("data-status-url");
  if (statusUrl) {
    var shown = body.getAttribute("data-state");
    var live = document.getElementById("live-status");
    var poll = function () {
      fetch(statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (s && s.state && s.state !== shown) {
            if (live) { live.textContent = "Payment status changed. Updating…"; }
            window.location.reload();
            return;
          }
          window.setTimeout(poll, 2000);
        })
        .catch(function () { window.setTimeout(poll, 4000); });
    };
    window.setTimeout(poll, 2000);
  }

  var returnUrl = body.getAttribute("data-return-url");
  if (returnUrl) {
    var delay = Number(body.getAttribute("data-return-delay")) || 3;
    window.setTimeout(function () { window.location.assign(returnUrl); }, delay * 1000);
  }

  var copyLabel = body.getAttribute("data-copy-label") || "Copy";
  var copiedLabel = body.getAttribute("data-copied-label") || "Copied";
  var buttons = document.querySelectorAll("button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) { return; }
      navigator.clipboard.writeText(source.textContent.replace(/ USDC$/, "").trim()).then(function () {
        button.textContent = copiedLabel;
        window.setTimeout(function () { button.textContent = copyLabel; }, 2000);
      });
    });
  });
})();
