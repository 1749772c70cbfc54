/* The dispatch console, live.

   The server renders everything; htmx refreshes the panel (#dispatch-panel) every few seconds
   as a fallback. When the fleet socket (/ws/fleet/) is available, every shipment frame
   {"type", "seq", "ts", "data": {"tracking_number", "status", "version", ...}} that the panel
   does not show at that version triggers an immediate refresh, so every dispatcher sees a
   change within a second. Selected checkboxes survive refreshes. */
(function () {
  "use strict";
  var panel = null;
  var status = null;
  var pending = null;
  var checked = [];

  // Refresh only when the dispatcher is not in the middle of choosing something in the panel.
  window.dmConsoleIdle = function () {
    if (!panel || panel.classList.contains("htmx-request")) return false;
    var active = document.activeElement;
    return !(active && panel.contains(active) && active.tagName === "SELECT");
  };

  function refreshSoon() {
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      if (window.htmx && panel) window.htmx.trigger(panel, "dm:refresh");
    }, 150);
  }

  function shownVersion(tracking) {
    var row = panel && panel.querySelector('[data-tracking="' + CSS.escape(tracking) + '"]');
    return row ? parseInt(row.dataset.version, 10) : null;
  }

  function onFrame(frame) {
    if (!frame || typeof frame.type !== "string") return;
    if (frame.type.indexOf("shipment_") === 0) {
      var data = frame.data || {};
      if (!data.tracking_number || shownVersion(data.tracking_number) !== data.version) {
        refreshSoon();
      }
    } else if (frame.type.indexOf("driver_") === 0) {
      refreshSoon();
    }
  }

  function setStatus(state, text) {
    if (!status) return;
    status.dataset.state = state;
    status.textContent = text;
  }

  function connect(delay) {
    if (!("WebSocket" in window)) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket;
    try {
      socket = new WebSocket(scheme + location.host + "/ws/fleet/");
    } catch (e) {
      return;
    }
    socket.addEventListener("open", function () {
      delay = 1000;
      setStatus("live", "Live");
      refreshSoon(); // catch up on whatever happened while disconnected
    });
    socket.addEventListener("message", function (event) {
      try { onFrame(JSON.parse(event.data)); } catch (e) { /* ignore a malformed frame */ }
    });
    socket.addEventListener("close", function () {
      var seconds = document.querySelector(".dm-console").dataset.refreshSeconds;
      setStatus("polling", "Refreshing every " + seconds + " s");
      var next = Math.min((delay || 1000) * 2, 30000);
      setTimeout(function () { connect(next); }, delay || 1000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    panel = document.getElementById("dispatch-panel");
    status = document.getElementById("dm-live-status");
    if (!panel) return;
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      if (event.detail.target !== panel) return;
      checked = Array.prototype.map.call(
        document.querySelectorAll("input.dm-pick:checked"), function (box) { return box.value; });
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target !== panel) return;
      var previous = event.detail.requestConfig && event.detail.requestConfig.elt;
      // After assigning, the picked rows are gone; keep the others that are still there.
      checked.forEach(function (value) {
        var box = panel.querySelector('input.dm-pick[value="' + CSS.escape(value) + '"]');
        if (box && !(previous && previous.id === "assign-form")) box.checked = true;
      });
    });
    connect(1000);
  });
})();
