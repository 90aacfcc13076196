"""The page in a real browser (headless Chromium over the DevTools protocol), fed by a feed the
test writes into: promotions appear, change phase and leave without a reload; a rejected one
names its failing gate; cluster text is never markup; a dropped stream says so and recovers.
The same page on a real cluster, fed by the real watch: tests/e2e/test_dashboard.py."""

from __future__ import annotations

import json

from mlrollout.dashboard.feed import PromotionFeed

from ..browser import Chromium, Page, artifacts_dir
from . import samples
from .conftest import MLFLOW_URL, Served, serve

FRAUD = "risk/fraud-scorer"
CHURN = "growth/churn-model"


def card(key: str) -> str:
    """A JS expression: the card of ``key``, or null."""
    return f"document.querySelector('article.card[data-key={json.dumps(key)}]')"


def phase_of(page: Page, key: str) -> str | None:
    value = page.evaluate(f"{card(key)}?.dataset.phase ?? null")
    return str(value) if value is not None else None


def wait_phase(page: Page, key: str, phase: str, timeout_s: float = 10) -> None:
    page.wait_for(f"{card(key)}?.dataset.phase === {json.dumps(phase)}", timeout_s,
                  f"the card of {key} to show {phase}")  # fmt: skip


def test_a_promotion_appears_and_follows_its_phase_without_a_reload(
    page: Page, served: Served
) -> None:
    assert page.evaluate("document.querySelectorAll('article.card').length") == 0
    page.evaluate("window.sameDocument = 'yes'")  # a reload would lose it

    served.feed.upsert(samples.verifying())
    wait_phase(page, FRAUD, "Verifying")
    assert page.evaluate(f"{card(FRAUD)}.querySelector('.phase').textContent") == "Verifying"
    assert page.evaluate(f"{card(FRAUD)}.querySelector('.version-candidate a').textContent") == (
        "v7"
    )
    served.feed.upsert(samples.promoted())
    wait_phase(page, FRAUD, "Promoted")

    assert page.evaluate("window.sameDocument") == "yes"
    assert page.evaluate("document.querySelectorAll('article.card').length") == 1
    serving = page.evaluate(f"{card(FRAUD)}.querySelector('.version-serving a').textContent")
    assert serving == "v7"
    gates = page.evaluate(f"""[...{card(FRAUD)}.querySelectorAll('.gate')].map(g => ({{
        name: g.dataset.gate, phase: g.dataset.phase,
        fill: parseFloat(g.querySelector('.fill').style.width),
        mark: parseFloat(g.querySelector('.mark').style.left)}}))""")
    assert [(g["name"], g["phase"]) for g in gates] == [
        ("accuracy >= 0.9", "Successful"), ("latency_p95_ms <= 100", "Successful"),
        ("error_rate <= 0.05", "Successful"), ("latency_p95_ms <= 250", "Successful"),
    ]  # fmt: skip
    accuracy = gates[0]
    assert (round(accuracy["fill"], 1), round(accuracy["mark"], 1)) == (96.2, 90.0)  # of 1.0
    charts = page.evaluate(f"""[...{card(FRAUD)}.querySelectorAll('svg.chart')].map(c => [
        c.dataset.metric, Number(c.dataset.points), c.querySelectorAll('circle').length,
        c.querySelectorAll('line.threshold').length])""")
    # Both thresholds are far above every sample: in the captions, not as lines flattening them.
    assert charts == [["latency_p95_ms", 12, 12, 0], ["error_rate", 12, 12, 0]]
    captions = page.evaluate(
        f"[...{card(FRAUD)}.querySelectorAll('.metric-chart figcaption')].map(c => c.innerText)"
    )
    assert captions == ["latency p95 (ms) last 35 (gate ≤ 250)", "error rate last 0 (gate ≤ 0.05)"]
    history = page.evaluate(
        f"[...{card(FRAUD)}.querySelectorAll('.timeline li')].map(li => li.dataset.outcome)"
    )
    assert history == ["Promoted", "RolledBack", "Promoted"]
    assert "undo by alice" in page.evaluate(f"{card(FRAUD)}.querySelector('.timeline').innerText")
    links = page.evaluate(f"[...{card(FRAUD)}.querySelectorAll('nav.links a')].map(a => a.href)")
    assert links == [
        f"{MLFLOW_URL}/#/runs/3f2c9a1be04d4b6f9e0c7d21a8b5e913",
        f"{MLFLOW_URL}/#/models/fraud-scorer/versions/7",
        f"{MLFLOW_URL}/#/models/fraud-scorer/versions/7",
    ]
    assert page.console == []


def test_a_sample_over_its_gate_is_red_under_the_threshold_line(page: Page, served: Served) -> None:
    promotion = samples.verifying()
    rounds = promotion["status"]["verification"]["samples"]
    for i, sample in enumerate(rounds):
        sample["values"]["latency_p95_ms"] = 180.0 + 20 * i  # 180 … 260: the last one over 250
    served.feed.upsert(promotion)
    wait_phase(page, FRAUD, "Verifying")

    chart = f"{card(FRAUD)}.querySelector('svg.chart[data-metric=latency_p95_ms]')"
    points = page.evaluate(
        f"[...{chart}.querySelectorAll('circle')].map(c => c.classList.contains('bad'))"
    )
    assert points == [False, False, False, False, True]
    line = page.evaluate(f"(l => [Number(l.getAttribute('y1')), Number(l.getAttribute('y2'))])"
                         f"({chart}.querySelector('line.threshold'))")  # fmt: skip
    last = page.evaluate(f"Number({chart}.querySelectorAll('circle')[4].getAttribute('cy'))")
    assert line[0] == line[1]
    assert last < line[0]  # above the line: SVG's y grows downwards


def test_a_rejected_promotion_names_its_failing_gate(page: Page, served: Served) -> None:
    served.feed.upsert(samples.promoted())
    served.feed.upsert(samples.rejected())
    wait_phase(page, CHURN, "Rejected")

    failed = page.evaluate(f"{card(CHURN)}.querySelector('.failed-gates').innerText")
    assert failed == "Failed gate: accuracy >= 0.9 (value 0.871)"
    bad_gate = page.evaluate(f"""(() => {{
        const g = {card(CHURN)}.querySelector('.gate[data-phase="Failed"]');
        return [g.dataset.gate, g.querySelector('.gate-value').textContent,
                getComputedStyle(g.querySelector('.fill')).backgroundColor];
    }})()""")
    assert bad_gate == ["accuracy >= 0.9", "0.871 ≥ 0.9", "rgb(198, 40, 40)"]  # red
    assert page.evaluate(f"{card(FRAUD)}.querySelector('.failed-gates')") is None
    keys = page.evaluate("[...document.querySelectorAll('article.card')].map(c => c.dataset.key)")
    assert keys == [CHURN, FRAUD]  # sorted by namespace, then name
    assert page.evaluate("document.getElementById('summary').textContent") == (
        "2 promotions: 1 Promoted, 1 Rejected"
    )


def test_a_deleted_promotion_leaves_the_page(page: Page, served: Served) -> None:
    served.feed.upsert(samples.rejected())
    wait_phase(page, CHURN, "Rejected")
    served.feed.delete("growth", "churn-model")
    page.wait_for(f"{card(CHURN)} === null", 10, "the card to go")
    assert page.evaluate("document.getElementById('empty').hidden") is False


def test_text_from_the_cluster_is_never_markup(page: Page, served: Served) -> None:
    promotion = samples.rejected()
    attack = '<img src=x onerror="window.pwned=1"><b>bold</b>'
    promotion["status"]["message"] = attack
    promotion["status"]["gates"][0]["name"] = attack
    promotion["status"]["history"][0]["reason"] = attack
    promotion["spec"]["mlflow"]["trackingUri"] = "javascript:window.pwned=2//"
    served.feed.upsert(promotion)
    wait_phase(page, CHURN, "Rejected")

    assert page.evaluate(f"{card(CHURN)}.querySelector('.message').textContent") == attack
    assert page.evaluate(f"{card(CHURN)}.querySelectorAll('img').length") == 0
    bold = page.evaluate(f"[...{card(CHURN)}.querySelectorAll('b')].map(b => b.textContent)")
    assert bold == ["Rejected", "Promoted"]  # the timeline's own, none from the text
    assert page.evaluate(f"{card(CHURN)}.querySelector('.failed-gate').textContent") == attack
    assert page.evaluate("window.pwned === undefined")
    # Links go to the --mlflow-url given; without one, a javascript: URI is never a link.
    hrefs = page.evaluate(f"[...{card(CHURN)}.querySelectorAll('a')].map(a => a.href)")
    assert hrefs
    assert all(href.startswith(f"{MLFLOW_URL}/") for href in hrefs), hrefs


def test_a_tracking_uri_that_is_not_http_gives_no_link(browser: Chromium) -> None:
    feed = PromotionFeed()  # no --mlflow-url: links come from the spec
    promotion = samples.rejected()
    promotion["spec"]["mlflow"]["trackingUri"] = "javascript:window.pwned=2//"
    feed.upsert(promotion)
    with serve(feed).in_thread() as url:
        page = browser.open(url)
        wait_phase(page, CHURN, "Rejected")
        assert page.evaluate(f"{card(CHURN)}.querySelectorAll('a').length") == 0
        assert page.evaluate("window.pwned === undefined")


def test_the_source_losing_the_api_shows_on_the_page(page: Page, served: Served) -> None:
    assert page.evaluate("document.getElementById('source-problem').hidden") is True
    served.feed.set_health(False, "lost the Kubernetes API (500); retrying in 2 s")
    page.wait_for("!document.getElementById('source-problem').hidden", 10, "the problem note")
    assert page.evaluate("document.getElementById('source-problem').textContent") == (
        "lost the Kubernetes API (500); retrying in 2 s"
    )
    served.feed.set_health(True, "watching")
    page.wait_for("document.getElementById('source-problem').hidden", 10, "the note to go")


def test_a_dropped_stream_says_so_and_the_page_recovers_when_the_server_is_back(
    browser: Chromium,
) -> None:
    first = PromotionFeed()
    first.upsert(samples.verifying())
    server = serve(first)
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    with server.in_thread() as url:
        page = browser.open(url)
        wait_phase(page, FRAUD, "Verifying")
        page.evaluate("window.sameDocument = 'yes'")
        assert page.evaluate("document.getElementById('connection').hidden") is True

    page.wait_for("document.body.dataset.stream === 'reconnecting'", 10, "the stream to drop")
    assert page.evaluate("document.getElementById('connection').hidden") is False
    assert "disconnected, reconnecting" in page.text()
    assert phase_of(page, FRAUD) == "Verifying"  # the last known state stays on the page

    second = PromotionFeed()  # the dashboard started again: the state is news to the page
    second.upsert(samples.promoted())
    second.upsert(samples.rejected())
    with serve(second, port=port).in_thread():
        wait_phase(page, FRAUD, "Promoted", timeout_s=20)
        wait_phase(page, CHURN, "Rejected")
        assert page.evaluate("document.getElementById('connection').hidden") is True
        assert page.evaluate("window.sameDocument") == "yes"


def test_a_screenshot_with_realistic_data(page: Page, served: Served) -> None:
    """Three promotions as a user sees them. The README's docs/dashboard.png is this image in
    128 colours (Pillow: `Image.open(shot).convert("RGB").quantize(128).save(docs_png)`)."""
    served.feed.upsert(samples.promoted())
    served.feed.upsert(samples.rejected())
    served.feed.upsert(samples.verifying("growth", "recsys-ranker", model="recsys-ranker"))
    wait_phase(page, "growth/recsys-ranker", "Verifying")
    wait_phase(page, CHURN, "Rejected")
    wait_phase(page, FRAUD, "Promoted")
    shot = page.screenshot(artifacts_dir() / "dashboard-fake.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a page with content, not a blank one
