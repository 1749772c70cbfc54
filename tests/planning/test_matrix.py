"""Travel times: the straight-line default, and OSRM-/Valhalla-compatible table services (a
small stand-in server on 127.0.0.1 answering in each format)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drivers.planning.matrix import HaversineMatrix, HttpTableMatrix, MatrixError
from tests.planning.conftest import point


class _TableHandler(BaseHTTPRequestHandler):
    # Every trip takes 100 s per index step, whatever the coordinates: easy to recognise.
    requests: list[str] = []

    def log_message(self, *args):
        pass

    def _reply(self, body: dict, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.requests.append(self.path)
        if not self.path.startswith("/table/v1/driving/"):
            return self._reply({"code": "InvalidUrl"}, 400)
        coords = self.path.split("/table/v1/driving/")[1].split("?")[0].split(";")
        n = len(coords)
        self._reply(
            {"code": "Ok", "durations": [[abs(i - j) * 100.4 for j in range(n)] for i in range(n)]}
        )

    def do_POST(self):
        self.requests.append(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        n = len(body["sources"])
        self._reply(
            {
                "sources_to_targets": [
                    [{"time": abs(i - j) * 50, "distance": 1.0} for j in range(n)] for i in range(n)
                ]
            }
        )


@pytest.fixture
def table_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TableHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _TableHandler.requests = []
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_straight_line_default_uses_road_factor_and_speed():
    matrix = HaversineMatrix(road_factor=1.5, speed_kmh=30).durations([point(0, 0), point(10, 0)])
    # 10 km × 1.5 at 30 km/h = 30 minutes (the sphere makes it a second or so more or less).
    assert matrix[0][0] == 0
    assert abs(matrix[0][1] - 1800) <= 3
    assert matrix[0][1] == matrix[1][0]


def test_osrm_table_service_answers(table_server):
    matrix = HttpTableMatrix(url=table_server, kind="osrm").durations(
        [point(0, 0), point(1, 0), point(2, 0)]
    )
    assert matrix == [[0, 101, 201], [101, 0, 101], [201, 101, 0]]
    assert "annotations=duration" in _TableHandler.requests[0]


def test_valhalla_table_service_answers(table_server):
    matrix = HttpTableMatrix(url=table_server, kind="valhalla").durations(
        [point(0, 0), point(1, 0)]
    )
    assert matrix == [[0, 50], [50, 0]]
    assert _TableHandler.requests == ["/sources_to_targets"]


def test_table_service_down_is_a_matrix_error():
    from tests.realservices import free_port

    provider = HttpTableMatrix(url=f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(MatrixError, match="failed"):
        provider.durations([point(0, 0), point(1, 0)])


def test_plan_uses_the_configured_table_service(city, table_server, settings):
    settings.PLANNING_MATRIX_URL = table_server
    city.driver(0, 0)
    city.order()
    result = city.plan()
    assert result.stats["travel_time_source"] == "table service"
    assert _TableHandler.requests


def test_plan_falls_back_to_straight_line_when_the_service_fails(city, settings):
    from tests.realservices import free_port

    settings.PLANNING_MATRIX_URL = f"http://127.0.0.1:{free_port()}"
    settings.PLANNING_MATRIX_TIMEOUT_S = 1
    city.driver(0, 0)
    order = city.order()
    result = city.plan()
    assert result.ok and result.unassigned == []
    assert any("estimated from straight-line distance" in note for note in result.notes)
    order.refresh_from_db()
    assert order.driver is not None
