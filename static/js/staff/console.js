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

  // At most one refresh a second, however many frames arrive: the first soon, the rest
  // folded into one trailing refresh.
  var lastRefresh = 0;
  function refreshSoon() {
    if (pending) return;
    var wait = Math.max(150, lastRefresh + 1000 - Date.now());
    pending = setTimeout(function () {
      pending = null;
      lastRefresh = Date.now();
      if (window.htmx && panel) window.htmx.trigger(panel, "dm:refresh");
    }, wait);
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
    } else if (frame.type === "fleet_positions") {
      ((frame.data || {}).positions || []).forEach(function (p) {
        if (markers[p.driver_id]) place(p);
      });
    } else if (frame.type.indexOf("driver_") === 0) {
      refreshSoon();
    }
  }

  // The small map: one marker per on-duty driver, from the panel's positions and from the
  // socket's coalesced `fleet_positions` frames.
  var map = null;
  var markers = {};
  function initMap() {
    var box = document.getElementById("dm-console-map");
    if (!box || !window.L) return;
    map = window.L.map(box, { zoomControl: true, attributionControl: true });
    window.L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
    map.setView([51.05, 3.72], 12);
  }
  function place(p, label) {
    if (!map || typeof p.lat !== "number" || typeof p.lng !== "number") return;
    var marker = markers[p.driver_id];
    if (marker) {
      marker.setLatLng([p.lat, p.lng]);
    } else {
      marker = markers[p.driver_id] = window.L.circleMarker([p.lat, p.lng], { radius: 7 }).addTo(map);
    }
    if (label) marker.bindTooltip(label);
  }
  function syncMarkers(fit) {
    var source = document.getElementById("dm-driver-positions");
    if (!map || !source) return;
    var positions = JSON.parse(source.textContent);
    var seen = {};
    positions.forEach(function (p) {
      seen[p.driver_id] = true;
      place(p, p.name + " · " + p.load + " job" + (p.load === 1 ? "" : "s"));
    });
    Object.keys(markers).forEach(function (id) {
      if (!seen[id]) { map.removeLayer(markers[id]); delete markers[id]; }
    });
    if (fit && positions.length) {
      map.fitBounds(positions.map(function (p) { return [p.lat, p.lng]; }), { maxZoom: 14, padding: [20, 20] });
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
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; /* ignore a malformed frame */ }
      // The server closes a socket it has not heard from for three pings.
      if (frame && frame.type === "ping") { socket.send(JSON.stringify({ type: "pong", data: {} })); return; }
      onFrame(frame);
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
    initMap();
    syncMarkers(true);
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target === panel) syncMarkers(false);
    });
    connect(1000);
  });
})();
