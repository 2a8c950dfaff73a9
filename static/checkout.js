// Optional enhancements for the checkout pages; every page works without this file (then a
// <noscript> refresh updates waiting pages).
// - Waiting pages (body[data-status-url]) poll their status and reload when it changes,
//   announcing it in the page's language (body[data-updating-label]).
// - After a submit with errors, focus moves to the error summary; its links move focus to
//   their field with its label in view (CSS scroll-margin does the same without script).
// - Times ([data-expires]) are shown in the buyer's own time zone.
// - Copy buttons ([data-copy]) copy the text of the element they name.
// - With a browser wallet (EIP-1193 window.ethereum), the wallet page's button (#wallet-send)
//   asks it to send exactly the transfer shown, on the right chain.
// No page leaves on a timer: the return to the merchant is the buyer's choice or an instant
// redirect once they are done.
(function () {
  "use strict";

  var body = document.body;
  var statusUrl = body.getAttribute("data-status-url");
  if (statusUrl) {
    var shown = body.getAttribute("data-state");
    var live = document.getElementById("live-status");
    var updating = body.getAttribute("data-updating-label");
    var poll = function () {
      fetch(statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (s && s.state && s.state !== shown) {
            if (live && updating) { live.textContent = updating; }
            window.location.reload();
            return;
          }
          window.setTimeout(poll, 2000);
        })
        .catch(function () { window.setTimeout(poll, 4000); });
    };
    window.setTimeout(poll, 2000);
  }

  var summary = document.getElementById("errors");
  if (summary) {
    summary.focus();
    Array.prototype.forEach.call(summary.querySelectorAll("a[href^='#']"), function (link) {
      link.addEventListener("click", function (event) {
        var input = document.getElementById(link.getAttribute("href").slice(1));
        if (!input) { return; }
        event.preventDefault();
        var label = document.querySelector("label[for='" + input.id + "']") || input.closest("label");
        (label || input).scrollIntoView({ block: "start" });
        input.focus({ preventScroll: true });
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-expires]"), function (el) {
    var when = new Date(el.getAttribute("data-expires"));
    var template = el.getAttribute("data-template");
    if (isNaN(when.getTime()) || !template || !window.Intl) { return; }
    var text = when.toLocaleString(document.documentElement.lang, { dateStyle: "long", timeStyle: "short" });
    el.textContent = template.replace("{date}", text);
  });

  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
    if (!navigator.clipboard) { return; }
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) { return; }
      navigator.clipboard.writeText(source.textContent.replace(/ USDC$/, "").trim()).then(function () {
        button.textContent = button.getAttribute("data-copied");
        window.setTimeout(function () { button.textContent = label; }, 2000);
      });
    });
  });

  var send = document.getElementById("wallet-send");
  var eth = window.ethereum;
  if (send && eth && typeof eth.request === "function" && typeof BigInt === "function") {
    send.parentNode.hidden = false;
    send.addEventListener("click", function () {
      var d = send.dataset;
      var status = document.getElementById("live-status");
      var say = function (text) { if (status) { status.textContent = text; } };
      var word = function (hex) { return ("0".repeat(64) + hex).slice(-64); };
      // ERC-20 transfer(address,uint256).
      var data = "0xa9059cbb" + word(d.to.slice(2).toLowerCase()) + word(BigInt(d.units).toString(16));
      send.disabled = true;
      eth.request({ method: "eth_requestAccounts" })
        .then(function (accounts) {
          return eth.request({ method: "eth_chainId" }).then(function (chain) {
            if (String(chain).toLowerCase() === d.chain) { return accounts; }
            return eth.request({ method: "wallet_switchEthereumChain", params: [{ chainId: d.chain }] })
              .then(function () { return accounts; });
          });
        })
        .then(function (accounts) {
          return eth.request({ method: "eth_sendTransaction", params: [{ from: accounts[0], to: d.token, data: data }] });
        })
        .then(function () { say(d.sent); })
        .catch(function () { say(d.refused); send.disabled = false; });
    });
  }
})();
