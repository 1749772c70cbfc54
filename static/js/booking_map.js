/* Maps for the customer pages (Leaflet, vendored). Pages stay usable without tiles or
   JavaScript: the coordinates are plain inputs and the addresses are printed in the page.
   - #booking-map: click/drag a pin that fills <side>_lat / <side>_lng; optional geocoding.
   - #route-map: read-only pickup and drop-off markers.
   - #area-map: the public page's coarse delivery area (a circle, never a point). */
(function () {
  "use strict";
  if (typeof L === "undefined") { return; }

  function baseMap(el, center, zoom) {
    var map = L.map(el, { scrollWheelZoom: false }).setView(center, zoom);
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, {
        maxZoom: 19,
        attribution: "&copy; OpenStreetMap contributors"
      }).addTo(map);
    }
    return map;
  }

  function pair(text) {
    if (!text) { return null; }
    var parts = text.split(",").map(Number);
    return parts.length === 2 && !isNaN(parts[0]) && !isNaN(parts[1]) ? parts : null;
  }

  var booking = document.getElementById("booking-map");
  if (booking) {
    var side = booking.dataset.side;
    var lat = document.getElementById("id_" + side + "_lat");
    var lng = document.getElementById("id_" + side + "_lng");
    var start = lat.value && lng.value ? [Number(lat.value), Number(lng.value)] : null;
    var map = baseMap(booking, start || pair(booking.dataset.center) || [0, 0], start ? 16 : 13);
    var marker = null;
    var place = function (latlng, pan) {
      lat.value = latlng.lat.toFixed(6);
      lng.value = latlng.lng.toFixed(6);
      if (!marker) {
        marker = L.marker(latlng, { draggable: true, keyboard: true, title: side + " pin" }).addTo(map);
        marker.on("dragend", function () { place(marker.getLatLng(), false); });
      } else {
        marker.setLatLng(latlng);
      }
      if (pan) { map.panTo(latlng); }
    };
    if (start) { place(L.latLng(start[0], start[1]), false); }
    map.on("click", function (e) { place(e.latlng, false); });
    var sync = function () {
      if (lat.value && lng.value && !isNaN(Number(lat.value)) && !isNaN(Number(lng.value))) {
        place(L.latLng(Number(lat.value), Number(lng.value)), true);
      }
    };
    lat.addEventListener("change", sync);
    lng.addEventListener("change", sync);
    var finder = document.getElementById("geocode");
    if (finder) {
      finder.addEventListener("click", function () {
        var q = ["address", "postcode", "city"].map(function (n) {
          var input = document.getElementById("id_" + side + "_" + n);
          return input ? input.value : "";
        }).filter(Boolean).join(", ");
        var status = document.getElementById("geocode-status");
        status.textContent = "Searching…";
        fetch(finder.dataset.url + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
          .then(function (res) {
            if (res[0]) { place(L.latLng(res[1].lat, res[1].lng), true); map.setZoom(16); status.textContent = "Pin placed: " + res[1].label; }
            else { status.textContent = res[1].error; }
          })
          .catch(function () { status.textContent = "Search failed. Place the pin on the map."; });
      });
    }
  }

  var route = document.getElementById("route-map");
  if (route) {
    var points = [pair(route.dataset.pickup), pair(route.dataset.dropoff)].filter(Boolean);
    var rmap = baseMap(route, points[0] || [0, 0], 13);
    if (points[0]) { L.marker(points[0], { title: "Pickup" }).addTo(rmap).bindTooltip("Pickup"); }
    if (points[1]) { L.marker(points[1], { title: "Drop-off" }).addTo(rmap).bindTooltip("Drop-off"); }
    if (points.length === 2) { rmap.fitBounds(points, { padding: [30, 30] }); }
    window.dropmateRouteMap = rmap;  // the live-tracking layer adds the driver here
  }

  var area = document.getElementById("area-map");
  if (area && pair(area.dataset.area)) {
    var center = pair(area.dataset.area);
    var amap = baseMap(area, center, 13);
    L.circle(center, { radius: 1000 }).addTo(amap);
  }
})();
