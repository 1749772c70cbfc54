/* The staff fleet page: markers per driver from /ws/fleet/ (coalesced fleet_positions frames,
 * fleet_snapshot on (re)connect, shipment events), filter by state, a text list beside it. */
(function (global) {
  "use strict";
  var snapshot = JSON.parse(document.getElementById("fleet-snapshot").textContent);
  var tiles = JSON.parse(document.getElementById("fleet-tiles").textContent);
  var list = document.querySelector("[data-fleet-list]");
  var LABELS = { delivering: "Delivering", to_pickup: "To pickup", idle: "Idle", no_signal: "No signal", off_duty: "Off duty" };

  document.querySelectorAll("[data-swatch]").forEach(function (el) {
    el.style.background = global.DropMateMaps.STATE_COLOURS[el.getAttribute("data-swatch")];
  });

  function row(d) {
    var li = list.querySelector('[data-driver="' + d.driver_id + '"]');
    if (!li) {
      li = document.createElement("li");
      li.setAttribute("data-driver", d.driver_id);
      var name = document.createElement("strong");
      name.textContent = d.name || ("Driver " + d.driver_id);
      var st = document.createElement("span");
      st.setAttribute("data-driver-state", "");
      li.appendChild(name); li.appendChild(document.createElement("br")); li.appendChild(st);
      list.appendChild(li);
      var empty = document.querySelector("[data-fleet-empty]");
      if (empty) empty.hidden = true;
      document.querySelector("[data-fleet-count]").textContent = list.children.length;
    }
    li.setAttribute("data-state", d.state || "");
    li.querySelector("[data-driver-state]").textContent = LABELS[d.state] || d.state || "";
    if (d.position) {
      li.setAttribute("data-lat", d.position.lat);
      li.setAttribute("data-lng", d.position.lng);
    }
    li.hidden = !!fleet.hidden[d.state];
  }

  var fleet = new global.DropMateMaps.FleetMap(document.querySelector("[data-fleet-map]"), {
    tileUrl: tiles, onChange: row,
  });
  snapshot.drivers.forEach(function (d) { fleet.upsert(d); });
  fleet.fit();

  document.querySelectorAll("[data-fleet-filter]").forEach(function (box) {
    box.addEventListener("change", function () {
      fleet.setHidden(box.getAttribute("data-fleet-filter"), !box.checked);
      for (var id in fleet.drivers) row(fleet.drivers[id]);
    });
  });

  function apply(frame) {
    var d = frame.data || {};
    if (frame.type === "fleet_snapshot") {
      d.drivers.forEach(function (x) { fleet.upsert(x); });
    } else if (frame.type === "fleet_positions") {
      d.positions.forEach(function (p) {
        fleet.upsert({ driver_id: p.driver_id, state: p.state, position: p });
      });
    }
  }

  global.dropmateFleet = fleet;
  global.dropmateLive = global.DropMateLive.connect({
    path: "/ws/fleet/", onFrame: apply, statusEl: document.querySelector("[data-live-status]"),
  });
})(window);
