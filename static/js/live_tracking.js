/* Wires templates/portals/shared/live_tracking.html: the shipment map fed by live.js. */
(function (global) {
  "use strict";
  var root = document.querySelector("[data-live-tracking]");
  var cfgEl = document.getElementById("live-config");
  if (!root || !cfgEl) return;
  var cfg = JSON.parse(cfgEl.textContent);
  var field = function (n) { return root.querySelector('[data-live-field="' + n + '"]'); };
  var state = { eta: cfg.snapshot.eta, position: cfg.snapshot.position, status: cfg.snapshot.status };
  var ACTIVE_END = { delivered: 1, returned: 1, cancelled: 1, rejected: 1 };

  var map = new global.DropMateMaps.ShipmentMap(root.querySelector("[data-live-map]"), {
    tileUrl: cfg.tileUrl, snapshot: cfg.snapshot,
  });

  function hhmm(iso) {
    var d = new Date(iso);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function ago(iso) {
    var s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    return s < 60 ? s + " s ago" : Math.round(s / 60) + " min ago";
  }
  function stale(iso) {
    return !iso || (Date.now() - new Date(iso).getTime()) / 1000 > cfg.staleAfterS;
  }
  function render() {
    field("status").textContent = state.statusLabel || field("status").textContent;
    var eta = state.eta;
    if (eta && !ACTIVE_END[state.status] && !stale(eta.fix_at)) {
      field("eta").textContent = hhmm(eta.earliest) + "–" + hhmm(eta.latest) + " · updated " + ago(eta.fix_at);
    } else {
      field("eta").textContent = ACTIVE_END[state.status] ? "—" : "Not available yet";
    }
    var p = state.position;
    if (p && !ACTIVE_END[state.status]) {
      field("driver").textContent = "On the map · " + ago(p.at);
      field("driver").setAttribute("data-lat", p.lat);
      field("driver").setAttribute("data-lng", p.lng);
    } else {
      field("driver").textContent = "Position shown when your stop is next";
      field("driver").removeAttribute("data-lat");
    }
  }

  function apply(frame) {
    var d = frame.data || {};
    switch (frame.type) {
      case "snapshot":
        state.status = d.status; state.statusLabel = d.status_label;
        state.eta = d.eta; state.position = d.position;
        map.setDriver(d.position);
        break;
      case "shipment_updated":
      case "shipment_assigned":
        state.status = d.status; state.statusLabel = d.status_label;
        if (ACTIVE_END[d.status] || d.status !== "out_for_delivery") {
          // The privacy rule may hide the driver now; staff get the next location frame anyway.
          if (ACTIVE_END[d.status]) { state.position = null; map.setDriver(null); }
        }
        break;
      case "location":
        // Fixes applied in parallel may arrive out of order: never step back in time.
        if (state.position && state.position.at && d.at && new Date(d.at) < new Date(state.position.at)) return;
        state.position = d;
        map.setDriver(d);
        break;
      case "eta_updated":
        state.eta = d.eta;
        break;
      default:
        return;
    }
    render();
  }

  global.dropmateLive = global.DropMateLive.connect({
    path: cfg.path, eventsUrl: cfg.eventsUrl, lastSeq: cfg.lastSeq, onFrame: apply,
    statusEl: root.querySelector("[data-live-status]"),
  });
  global.dropmateShipmentMap = map;
  render();
  setInterval(render, 5000);
})(window);
