"""Shadow mirroring between real server processes: a champion (MODEL_SERVER_SHADOW_URL) mirrors
the requests it answered to a shadow (MODEL_SERVER_MIRROR_SHARE), which predicts them again and
counts how often it agrees; the champion's own answers never depend on the shadow."""

from __future__ import annotations

import gc
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from model_server.admission import inference_route
from model_server.metrics import MIRROR_OUTCOMES, ServerMetrics
from model_server.profile import SMOKE_HEADER
from model_server.shadow import LABEL_CAP, Comparison, agrees

from . import models
from .conftest import serve
from .served import eventually, get, metric, post, start_server, wait_ready
from .stub_shadow import StubShadow

M = "mlrollout_model_server_"
SHADOW_ENV = {"MODEL_SERVER_MIRROR_SHARE": "100"}
Served = tuple[str, subprocess.Popen[bytes]]  # base URL, process


@contextmanager
def shadowed(
    shadow_model: Path, champion_model: Path, *, polls_once: bool = False, **champion: str
) -> Iterator[list[Served]]:
    """[champion, shadow]: a shadow and a champion that mirrors to it, started together (they
    load in parallel), killed on exit. ``champion``: more of its settings. ``polls_once``: the
    champion asks for the share only when it is ready, so it starts once the shadow answers."""
    with ExitStack() as stack:
        shadow = start_server(shadow_model, SHADOW_ENV)
        stack.callback(_stop, shadow[1])
        if polls_once:
            wait_ready(*shadow)
            champion = {**champion, "shadow_poll_seconds": "3600"}
        mirroring_one = start_server(champion_model, champion_env(shadow[0], **champion))
        stack.callback(_stop, mirroring_one[1])
        for base, process in (shadow, mirroring_one):
            wait_ready(base, process)
        mirroring(mirroring_one[0])
        yield [mirroring_one, shadow]


@contextmanager
def running(model: Path, env: dict[str, str]) -> Iterator[str]:
    base, process = start_server(model, env)
    try:
        wait_ready(base, process)
        yield base
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate()


def champion_env(shadow: str, **extra: str) -> dict[str, str]:
    env = {"MODEL_SERVER_SHADOW_URL": shadow, "MODEL_SERVER_SHADOW_POLL_SECONDS": "0.1"}
    return {**env, **{f"MODEL_SERVER_{k.upper()}": v for k, v in extra.items()}}


def mirroring(base: str, share: float = 1.0) -> None:
    eventually(lambda: metric(base, f"{M}mirror_share") == share, f"{base} mirrors {share}")


def outcomes(base: str) -> dict[str, float]:
    return {o: metric(base, f"{M}mirror_requests_total", outcome=o) for o in MIRROR_OUTCOMES}


def compared(base: str) -> tuple[float, float]:
    return metric(base, f"{M}mirror_rows_total"), metric(base, f"{M}mirror_agreed_rows_total")


def mirrored_posts(base: str) -> float:
    return metric(base, f"{M}requests_total", route="/mirror", method="POST", status="200")


@pytest.fixture(scope="module")
def inverted_dir(tmp_path_factory: pytest.TempPathFactory, data: models.Dataset) -> Path:
    """A forest trained on the opposite labels: it disagrees with the forest on nearly every row."""
    flipped = models.Dataset(data.features, 1 - data.target)
    path = tmp_path_factory.mktemp("m") / "inverted"
    return models.save_sklearn(models.random_forest(flipped), flipped, path)


@pytest.fixture(scope="module")
def pair(profiled_dir: Path) -> Iterator[tuple[str, str]]:
    """(champion, shadow): the same forest (with a reference profile) on both sides."""
    with shadowed(profiled_dir, profiled_dir) as [(champion, _), (shadow, _)]:
        yield champion, shadow


def rows_of(data: models.Dataset, n: int) -> list[list[float]]:
    return [[float(v) for v in row] for row in data.features.to_numpy()[:n]]


def test_a_shadow_of_the_same_model_agrees_on_every_mirrored_row(
    pair: tuple[str, str], data: models.Dataset, forest: Any
) -> None:
    champion, shadow = pair
    rows = rows_of(data, 40)
    expected = models.expected(forest, rows, data.features.columns)
    rows_before, agreed_before = compared(shadow)
    posts_before, profiled_before = mirrored_posts(shadow), get(f"{shadow}/profile")[1]
    offered_before = sum(outcomes(champion).values())
    posts_any_before = metric(shadow, f"{M}requests_total", route="/mirror", method="POST")
    proba_only = {"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": rows[0]}],
                  "outputs": [{"name": "predict_proba"}]}  # fmt: skip
    assert post(f"{champion}/v2/models/profiled/infer", proba_only)[0] == 200  # no predict: kept
    answers = [post(f"{champion}/predict", {"instances": [row]}) for row in rows[:38]]
    v2 = {"inputs": [{"name": "x", "shape": [2, 30], "datatype": "FP64",
                      "data": rows[38] + rows[39]}]}  # fmt: skip
    v2_status, v2_answer = post(f"{champion}/v2/models/profiled/infer", v2)

    assert answers == [(200, {"predictions": [label]}) for label in expected[:38]]
    assert (v2_status, v2_answer["outputs"][0]["data"]) == (200, expected[38:])
    # A wrongly mirrored proba-only request, first in the queue, would have been counted by now.
    eventually(lambda: compared(shadow)[0] - rows_before >= 40, "the shadow compared 40 rows")
    assert compared(shadow) == (rows_before + 40, agreed_before + 40)
    assert mirrored_posts(shadow) - posts_before == 39  # 38 single rows + the 2-row request
    assert sum(outcomes(champion).values()) - offered_before == 39
    assert outcomes(champion)["failed"] == 0
    posts_any = metric(shadow, f"{M}requests_total", route="/mirror", method="POST")
    assert posts_any - posts_any_before == 39  # any status
    labels = Counter(str(label) for label in expected)
    for side in ("champion", "candidate"):
        for label, count in labels.items():
            seen = metric(shadow, f"{M}mirror_predictions_total", side=side, label=label)
            assert seen >= count, (side, label)
    profiled = get(f"{shadow}/profile")[1]
    assert profiled["live"]["rows"] - profiled_before["live"]["rows"] == 40  # drift gates see it
    assert metric(shadow, f"{M}requests_total", route="/mirror", method="GET") == 0  # polls


def test_smoke_load_is_mirrored_but_not_counted(
    pair: tuple[str, str], data: models.Dataset
) -> None:
    champion, shadow = pair
    before, posts = compared(shadow), mirrored_posts(shadow)
    profiled = get(f"{shadow}/profile")[1]["live"]["rows"]
    labels = metric(shadow, f"{M}mirror_predictions_total")
    for row in rows_of(data, 5):
        assert post(f"{champion}/predict", {"instances": [row]}, {SMOKE_HEADER: "1"})[0] == 200
    eventually(lambda: mirrored_posts(shadow) - posts == 5, "5 smoke requests reached the shadow")
    assert compared(shadow) == before
    assert get(f"{shadow}/profile")[1]["live"]["rows"] == profiled
    assert metric(shadow, f"{M}mirror_predictions_total") == labels


def test_a_shadow_of_another_model_disagrees(
    inverted_dir: Path, forest_dir: Path, data: models.Dataset, forest: Any
) -> None:
    rows = rows_of(data, 60)
    with shadowed(inverted_dir, forest_dir) as [(champion, _), (shadow, _)]:
        answers = [post(f"{champion}/predict", {"instances": [row]})[1] for row in rows]
        eventually(lambda: compared(shadow)[0] == 60, "the shadow compared 60 rows")
        rows_compared, agreed = compared(shadow)
        champion_ones = metric(shadow, f"{M}mirror_predictions_total", side="champion", label="1")
        candidate_zeros = metric(shadow, f"{M}mirror_predictions_total", side="candidate",
                                 label="0")  # fmt: skip
    expected = models.expected(forest, rows, data.features.columns)
    assert answers == [{"predictions": [p]} for p in expected]
    assert agreed / rows_compared < 0.1
    assert champion_ones > 0
    assert candidate_zeros >= 0.9 * champion_ones  # the inverted forest says 0 where it says 1


def test_the_champion_answers_the_same_when_its_shadow_is_killed_mid_run(
    forest_dir: Path, data: models.Dataset, forest: Any
) -> None:
    rows = rows_of(data, 80)
    expected = [{"predictions": [p]} for p in models.expected(forest, rows, data.features.columns)]
    # It asks once, when ready: afterwards it keeps sending to the killed shadow.
    with shadowed(forest_dir, forest_dir, polls_once=True) as servers:
        [(champion, _), (_, shadow_process)] = servers
        answers: list[tuple[int, Any]] = []
        half = threading.Event()

        def drive() -> None:
            for i, row in enumerate(rows):
                answers.append(post(f"{champion}/predict", {"instances": [row]}))
                if i == len(rows) // 2:
                    half.set()
                    eventually(lambda: shadow_process.poll() is not None, "shadow killed")

        driver = threading.Thread(target=drive)
        driver.start()
        assert half.wait(30)
        eventually(lambda: outcomes(champion)["sent"] == 41, "the first 41 mirrored")
        shadow_process.kill()
        driver.join(60)
        eventually(lambda: sum(outcomes(champion).values()) == 80, "80 mirrors accounted")
        counted = outcomes(champion)
    assert answers == [(200, body) for body in expected]
    assert counted == {"sent": 41, "dropped": 0, "failed": 39}


def test_a_slow_shadow_fills_the_queue_and_the_rest_is_dropped_not_waited_for(
    forest_dir: Path, data: models.Dataset, forest: Any
) -> None:
    rows = rows_of(data, 20)
    expected = models.expected(forest, rows, data.features.columns)
    with StubShadow() as stub:
        stub.release.clear()  # every POST /mirror hangs until released
        env = champion_env(stub.base, mirror_queue="2", mirror_concurrency="1",
                           mirror_timeout_seconds="30")  # fmt: skip
        with running(forest_dir, env) as champion:
            mirroring(champion)
            timed = []
            for row in rows:
                started = time.monotonic()
                timed.append((post(f"{champion}/predict", {"instances": [row]}),
                              time.monotonic() - started))  # fmt: skip
            held = outcomes(champion)
            stub.release.set()
            eventually(lambda: outcomes(champion)["sent"] == 20 - held["dropped"], "queue sent")
            smoke = post(f"{champion}/predict", {"instances": [rows[0]]}, {SMOKE_HEADER: "1"})
            assert smoke[0] == 200
            eventually(lambda: outcomes(champion)["sent"] == 21 - held["dropped"], "smoke sent")
    assert [answer for answer, _ in timed] == [(200, {"predictions": [p]}) for p in expected]
    assert max(seconds for _, seconds in timed) < 1.0  # the hanging shadow costs them nothing
    assert held["dropped"] >= 15  # one in flight, two queued: the rest are dropped
    assert held["failed"] == 0
    headers, body = stub.posted[0]
    assert headers["content-type"] == "application/json"
    assert SMOKE_HEADER not in headers
    assert body == {"inputs": [rows[0]], "predictions": [expected[0]], "model_version": "local"}
    smoke_headers, _ = stub.posted[-1]
    assert smoke_headers[SMOKE_HEADER] == "1"


def test_mirroring_turns_on_and_off_with_the_shadow_and_logs_each_change_once(
    forest_dir: Path, data: models.Dataset
) -> None:
    row = rows_of(data, 1)
    with StubShadow() as stub:
        stub.share_answer = (200, b'{"share": 0.5}')
        champion, process = start_server(forest_dir, champion_env(stub.base))
        try:
            wait_ready(champion, process)
            mirroring(champion, 0.5)
            for answer in [(404, b'{"error": "not a shadow"}'), (200, b'{"share": 7}'),
                           (200, b"not json"), (503, b"{}")]:  # fmt: skip
                stub.share_answer = answer
                polls = stub.polls
                eventually(lambda: stub.polls >= polls + 5, "the champion polls on")  # noqa: B023
                assert metric(champion, f"{M}mirror_share") == 0
            assert post(f"{champion}/predict", {"instances": row})[0] == 200
        finally:
            process.terminate()
            log = process.communicate(timeout=30)[0].decode()
    assert log.count('"mirroring on"') == 1
    assert log.count('"mirroring off"') == 1
    assert log.count(stub.base) == 3  # those two and the one at start: no line per poll
    assert not stub.posted  # mirroring was off when the request came


def test_no_shadow_no_mirroring_no_noise(forest_dir: Path, data: models.Dataset) -> None:
    """The usual case: the shadow Service does not exist (a DNS error at every poll)."""
    champion, process = start_server(forest_dir, champion_env("http://churn-shadow.invalid"))
    try:
        wait_ready(champion, process)
        for row in rows_of(data, 20):
            assert post(f"{champion}/predict", {"instances": [row]})[0] == 200
        time.sleep(0.5)  # five polls at least (a failed poll leaves no trace to wait for)
        assert outcomes(champion) == {"sent": 0, "dropped": 0, "failed": 0}
        assert metric(champion, f"{M}mirror_share") == 0
    finally:
        process.terminate()
        log = process.communicate(timeout=30)[0].decode()
    assert log.count("mirroring") == 1  # "mirroring to the shadow whenever it asks", at start
    assert "churn-shadow.invalid" in log


ROW = [0.5] * 30


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"inputs": [[1.0, 2.0]], "predictions": [0]},
            "inputs[0] has 2 values; the model takes 30",
        ),
        ({"inputs": [ROW, ROW], "predictions": [0]}, '"predictions" has 1 values for 2 rows'),
        ({"inputs": [ROW], "predictions": 0}, '"predictions" must be a list'),
        ({"inputs": [ROW]}, '"predictions" must be a list'),
        ({"inputs": "rows", "predictions": [0]}, '"inputs" must be a non-empty list'),
        ({"inputs": [], "predictions": []}, '"inputs" must be a non-empty list'),
        ({"inputs": [["a"] * 30], "predictions": [0]}, "inputs[0][0]: expected a number"),
        ({"inputs": [ROW], "predictions": [0], "model_version": 3}, '"model_version"'),
        ([ROW], "JSON object"),
        (b"not json", "not valid JSON"),
    ],
)
def test_bad_mirrored_bodies_get_a_4xx_with_the_reason(
    pair: tuple[str, str], body: Any, reason: str
) -> None:
    _, shadow = pair
    status, answer = post(f"{shadow}/mirror", body)
    assert 400 <= status < 500
    assert reason in answer["error"]


def test_a_server_that_is_no_shadow_refuses_mirrored_requests(pair: tuple[str, str]) -> None:
    champion, shadow = pair
    assert get(f"{shadow}/mirror") == (200, {"share": 1.0})
    status, answer = post(f"{champion}/mirror", {"inputs": [ROW], "predictions": [0]})
    assert status == 404
    assert "not a shadow" in answer["error"]
    assert get(f"{champion}/mirror")[0] == 404
    good = post(f"{shadow}/mirror", {"inputs": [ROW], "predictions": [0]})
    assert good[0] == 200
    assert good[1]["rows"] == 1


def test_the_share_is_the_percentage_and_a_shadow_not_ready_answers_503(
    forest_dir: Path, tmp_path: Path
) -> None:
    with serve(forest_dir, mirror_share=25) as client:
        assert client.get("/mirror").json() == {"share": 0.25}
    with serve(tmp_path / "missing", mirror_share=25, load_attempts=1) as client:
        assert client.get("/mirror").status_code == 503
        mirrored = client.post("/mirror", json={"inputs": [[1.0]], "predictions": [0]})
        assert mirrored.status_code == 503


def test_the_agreement_rule() -> None:
    assert agrees(1, 1.0, 0)  # an integral float is the same label
    assert agrees("1", 1.0, 0)
    assert agrees("cat", "cat", 0)
    assert not agrees("cat", "dog", 0)
    assert not agrees(0, 1, 0)
    assert agrees(0.50, 0.52, 0.05)  # numbers within the tolerance
    assert not agrees(0.50, 0.56, 0.05)
    assert not agrees(0.5, 0.5000001, 0)
    assert agrees(float("nan"), float("nan"), 0)  # the same (missing) answer
    assert not agrees(True, 1, 0)  # a bool is a label, not a number
    assert agrees(True, True, 0)


def test_labels_are_counted_per_side_up_to_a_cap() -> None:
    metrics = ServerMetrics()
    comparison = Comparison(metrics, 0)
    champion = [str(i) for i in range(LABEL_CAP + 8)] + [0.25]  # a score is no label
    candidate = [*champion[:-1], 0.3]
    assert comparison.compare(champion, candidate, count=True) == LABEL_CAP + 8
    assert comparison.compare(["a"], ["b"], count=False) == 0  # smoke: compared, not counted

    def count(side: str, label: str) -> float | None:
        return metrics.registry.get_sample_value(
            "mlrollout_model_server_mirror_predictions_total", {"side": side, "label": label}
        )

    assert count("champion", "0") == 1
    assert count("candidate", str(LABEL_CAP - 1)) == 1
    assert count("champion", str(LABEL_CAP)) is None
    assert count("champion", "other") == 8
    assert count("candidate", "a") is None
    assert metrics.registry.get_sample_value("mlrollout_model_server_mirror_rows_total") == 41


def test_the_app_stops_its_mirroring_cleanly_even_with_a_request_in_flight(
    forest_dir: Path, data: models.Dataset
) -> None:
    """Poller, senders and their HTTP client end with the app (a warning fails the test)."""
    row = {"instances": rows_of(data, 1)}
    with (
        StubShadow() as stub,
        serve(forest_dir, shadow_url=stub.base, shadow_poll_seconds=0.05) as client,
    ):
        eventually(lambda: f"{M}mirror_share 1.0" in client.get("/metrics").text, "mirroring")
        assert client.post("/predict", json=row).status_code == 200
        eventually(lambda: len(stub.posted) == 1, "one request mirrored")
        stub.release.clear()  # the next one hangs: in flight when the app stops
        assert client.post("/predict", json=row).status_code == 200
        eventually(lambda: len(stub.posted) == 2, "a second request in flight")
        mirror = client.app.state.mirror  # type: ignore[attr-defined]
        assert not mirror.stopped
    assert mirror.stopped
    gc.collect()  # an unclosed client or socket would warn now


def test_mirrored_requests_are_admitted_as_inference_and_polls_like_health() -> None:
    assert inference_route("/mirror", "POST") == "/mirror"  # shed past the limit, like /predict
    assert inference_route("/mirror", "GET") is None
    assert inference_route("/predict", "POST") == "/predict"
