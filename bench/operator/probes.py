"""What the operator bench reads around a run besides processes (`bench.processes`): the API
server's request counters and the MLflow server's access log."""

from __future__ import annotations

import re
from collections import Counter

_REQUEST = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$", re.M)


def apiserver_requests(metrics_text: str) -> Counter[str]:
    """`verb resource` → requests served so far, from the API server's /metrics."""
    counts: Counter[str] = Counter()
    for match in _REQUEST.finditer(metrics_text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group("labels")))
        counts[f"{labels.get('verb', '?')} {labels.get('resource', '?')}"] += int(
            float(match.group("value"))
        )
    return counts


_ACCESS = re.compile(r'"(GET|POST|PATCH|DELETE|PUT) (/[^ ?"]*)')


def mlflow_requests(log_text: str) -> Counter[str]:
    """`METHOD path` → requests, from the uvicorn access lines of an MLflow server's log."""
    return Counter(f"{m.group(1)} {m.group(2)}" for m in _ACCESS.finditer(log_text))
