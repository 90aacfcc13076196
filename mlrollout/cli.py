"""`mlrollout`: the command line of the project (training demo, local MLflow, gate checks)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    help="Promote MLflow models onto Kubernetes behind SLO gates.",
    no_args_is_help=True,
    add_completion=False,
)
gates_app = typer.Typer(help="Offline SLO gates of a ModelPromotion.", no_args_is_help=True)
app.add_typer(gates_app, name="gates")
err = Console(stderr=True, highlight=False, soft_wrap=True)

ALGORITHMS_HELP = "Comma-separated subset of random_forest,xgboost,logistic_regression."


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


@app.command()
def train(
    quick_demo: Annotated[bool, typer.Option(help="Small settings: all three in seconds.")] = False,
    algorithms: Annotated[str | None, typer.Option(help=ALGORITHMS_HELP)] = None,
    seed: Annotated[int, typer.Option(help="Random seed (split and models).")] = 42,
    registered_model: Annotated[
        str, typer.Option(help="Registered model name.")
    ] = "mlrollout-demo",
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "mlrollout-demo",
    tracking_uri: Annotated[
        str | None,
        typer.Option(envvar="MLFLOW_TRACKING_URI", help="MLflow server; default: a local store."),
    ] = None,
    slo_file: Annotated[Path | None, typer.Option(help="YAML file of SLO thresholds.")] = None,
    min_accuracy: Annotated[float | None, typer.Option(help="SLO: minimum accuracy.")] = None,
    max_latency_p95_ms: Annotated[float | None, typer.Option(help="SLO: max p95 ms.")] = None,
    max_model_size_bytes: Annotated[int | None, typer.Option(help="SLO: max bytes.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON summary on stdout.")] = False,
) -> None:
    """Train RandomForest, XGBoost and LogisticRegression; measure, log and register them."""
    from mlrollout import tracking_server

    from .training import algorithms as algos
    from .training import report, runner, tracking
    from .training.slo import SloError, load_slo

    names = [n.strip() for n in algorithms.split(",") if n.strip()] if algorithms else None
    try:  # everything is validated before anything is trained or registered
        chosen = algos.pick(names)
        slo = load_slo(
            slo_file, min_accuracy=min_accuracy, max_latency_p95_ms=max_latency_p95_ms,
            max_model_size_bytes=max_model_size_bytes,
        )  # fmt: skip
        if tracking_uri is not None:
            tracking.check_reachable(tracking_uri)
    except (ValueError, SloError) as exc:
        raise fail(str(exc), 2) from None
    except tracking.TrackingError as exc:
        raise fail(str(exc)) from None

    # Our own progress and links replace MLflow's (its run links would go to stdout and point
    # at the short-lived local server).
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    out = Console(stderr=as_json, highlight=False, width=130)
    options = runner.Options(chosen, quick_demo, seed, registered_model, experiment, slo)
    server = None
    try:
        if tracking_uri is None:
            store = tracking.local_store()
            config = tracking_server.TrackingServerConfig(store, port=tracking_server.free_port())
            out.print(f"no tracking URI given: using the local store {store}")
            server = tracking_server.start(config, store / "mlflow-server.log")
            uri, links = config.url, tracking.LOCAL_UI_URL
        else:
            uri = links = tracking_uri
        import mlflow

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # after mlflow set its own
        mlflow.set_tracking_uri(uri)
        experiment_id, results = runner.train_all(options, out.print)
    finally:
        if server is not None:
            tracking_server.stop(server)
    best = runner.champion(results)
    summary = report.summary(
        results, best, tracking_uri=links, experiment_id=experiment_id,
        registered_model=registered_model,
    )  # fmt: skip
    for run in summary["runs"]:
        if run["run_url"]:
            out.print(f"{run['algorithm']}: {run['run_url']}")
    report.print_table(out, results, best)
    if server is not None:
        out.print("browse these runs with 'mlrollout mlflow' (UI at http://127.0.0.1:5000)")
    if as_json:
        print(json.dumps(summary, indent=2))


@app.command("mlflow")
def mlflow_server(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    store: Annotated[Path | None, typer.Option(help="Store folder (default: local).")] = None,
) -> None:
    """Run a small local MLflow tracking server on the local store, until Ctrl-C."""
    import subprocess

    from mlrollout import tracking_server

    from .training import tracking

    config = tracking_server.TrackingServerConfig(store or tracking.local_store(), host, port)
    config.store_dir.mkdir(parents=True, exist_ok=True)
    err.print(f"MLflow UI and API at {config.url} (store {config.store_dir}); Ctrl-C stops it")
    try:
        subprocess.run(
            tracking_server.server_command(config), env=tracking_server.server_env(), check=True
        )
    except KeyboardInterrupt:
        pass
    except subprocess.CalledProcessError as exc:
        raise fail(f"mlflow server exited with {exc.returncode}; is port {port} free?") from None


@app.command("db-upgrade")
def db_upgrade(
    backend_store_uri: Annotated[
        str, typer.Option(envvar="BACKEND_STORE_URI", help="MLflow's tracking database.")
    ],
    auth_database_uri: Annotated[
        str | None,
        typer.Option(envvar="AUTH_DATABASE_URI", help="The basic-auth app's user database."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the database.")] = 300,
) -> None:
    """Create or upgrade MLflow's database schema, one migrator at a time (init container)."""
    from . import mlflow_db

    handler = logging.StreamHandler()
    handler.setFormatter(mlflow_db.JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    try:
        revision = mlflow_db.upgrade(backend_store_uri, auth_database_uri or None, timeout)
    except mlflow_db.DatabaseUnreachable as exc:
        raise fail(str(exc)) from None
    err.print(f"MLflow's database is at revision {revision}", markup=False)


@gates_app.command("check")
def gates_check(
    file: Annotated[Path, typer.Option("-f", "--file", help="A ModelPromotion YAML file.")],
    tracking_uri: Annotated[
        str | None, typer.Option(help="Reach MLflow here instead of spec.mlflow.trackingUri.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="status.gates as JSON.")] = False,
) -> None:
    """Evaluate the offline gates as the operator would; exit 1 when a gate fails."""
    from . import gate_check

    try:
        checked = gate_check.check_file(file, tracking_uri)
    except gate_check.CheckError as exc:
        raise fail(str(exc), exc.code) from None
    if as_json:
        print(json.dumps({c.name: gate_check.table_rows(c) for c in checked}, indent=2))
    else:
        print(gate_check.render(checked))
    raise typer.Exit(gate_check.exit_code(checked))


def main() -> None:
    app()
