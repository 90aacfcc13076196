"""`kubectl mlrollout`: see and operate ModelPromotions with the user's kubeconfig and RBAC.

kubectl runs `kubectl-mlrollout` with the arguments after `kubectl mlrollout`, so the plugin
reads the kubeconfig itself (--kubeconfig, $KUBECONFIG, --context, -n) as kubectl would.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from mlrollout import cli
from promotion_operator.control import Action

from . import controls, render
from .kube import KubeError, Promotions, connect

app = typer.Typer(
    help="See and operate ModelPromotions (mlrollout.dev) in a Kubernetes cluster.",
    no_args_is_help=True,
    add_completion=False,
)
gates_app = typer.Typer(help="Offline SLO gates of a ModelPromotion.", no_args_is_help=True)
gates_app.command("check")(cli.gates_check)  # the very command `mlrollout gates check` runs
app.add_typer(gates_app, name="gates")
# Piped into a file, `less` or a script, tables keep their rows whole (as kubectl's do) rather
# than folding to rich's 80-column default; a terminal (or $COLUMNS) sets its own width.
PIPED_WIDTH = 200
out = Console(
    highlight=False,
    width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else PIPED_WIDTH,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)

Kubeconfig = Annotated[
    str | None,
    typer.Option("--kubeconfig", help="Kubeconfig file(s); default $KUBECONFIG, ~/.kube/config."),
]
Context = Annotated[str | None, typer.Option("--context", help="Kubeconfig context to use.")]
Namespace = Annotated[
    str | None,
    typer.Option("-n", "--namespace", help="Namespace; default the context's, else default."),
]
AllNamespaces = Annotated[
    bool, typer.Option("-A", "--all-namespaces", help="Promotions of every namespace.")
]
Name = Annotated[str, typer.Argument(help="The ModelPromotion's name.", show_default=False)]
Wait = Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the operator's answer.")]
Timeout = Annotated[float, typer.Option(help="Seconds to wait for the operator.")]


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


@contextmanager
def reported() -> Iterator[None]:
    """Expected failures as one line on stderr and exit 1, never a traceback."""
    try:
        yield
    except (KubeError, controls.NotNow) as exc:
        raise fail(str(exc)) from None


def promotions(
    kubeconfig: str | None, context: str | None, namespace: str | None, all_ns: bool = False
) -> Promotions:
    with reported():
        return Promotions(connect(kubeconfig, context, namespace), all_namespaces=all_ns)


def now() -> datetime:
    return datetime.now(UTC)


# -- get ------------------------------------------------------------------------------------
class View:
    """What `get --watch` shows, rendered anew at every refresh (ages move on by themselves)."""

    def __init__(self, api: Promotions, name: str | None) -> None:
        self.api, self.name = api, name
        self.objects: list[dict[str, Any]] = []

    def __rich__(self) -> RenderableType:
        if self.name is not None:
            if not self.objects:
                return Text(f"modelpromotion {self.name!r} was deleted", style="red")
            return render.detail(self.objects[0], now())
        if not self.objects:
            return Text(nothing_in(self.api))
        return render.table(self.objects, now(), all_namespaces=self.api.all_namespaces)


def nothing_in(api: Promotions) -> str:
    where = "any namespace" if api.all_namespaces else f"namespace {api.namespace!r}"
    return f"no modelpromotions in {where}"


@app.command()
def get(
    name: Annotated[str | None, typer.Argument(help="One promotion; all when left out.")] = None,
    watch: Annotated[bool, typer.Option("-w", "--watch", help="Show every change.")] = False,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
    all_namespaces: AllNamespaces = False,
) -> None:
    """A table of promotions, or one promotion in full: gates, verification, history."""
    if name and all_namespaces:
        raise fail("a promotion is named in one namespace: pass -n instead of -A")
    api = promotions(kubeconfig, context, namespace, all_namespaces)
    with reported():
        if watch:
            watch_view(api, name)
        elif name:
            out.print(render.detail(api.get(name), now()))
        else:
            objects, _ = api.listing()
            if objects:
                out.print(render.table(objects, now(), all_namespaces=all_namespaces))
            else:
                err.print(nothing_in(api))


def watch_view(api: Promotions, name: str | None) -> None:
    """Re-render on every change until Ctrl-C (exit 0); reprint when stdout is not a terminal."""
    view, stream = View(api, name), api.watch(name)
    try:
        view.objects = next(stream)
        if name and not view.objects:
            api.get(name)  # raises NotFound with the message that says where to look
        if out.is_terminal:
            with Live(view, console=out, refresh_per_second=1):
                for view.objects in stream:
                    pass  # Live re-renders the view
        else:
            out.print(view)
            for view.objects in stream:
                out.print()
                out.print(view)
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()


# -- requests to the operator ---------------------------------------------------------------
def request(
    action: Action,
    name: str,
    where: tuple[str | None, str | None, str | None],
    wait: bool,
    timeout: float,
    *,
    to_version: str | None = None,
    reason: str = "",
) -> None:
    """Check, write the request, and print the operator's answer (exit 1 unless accepted)."""
    api = promotions(*where)
    with reported():
        asked = controls.ask(api, name, action, to_version=to_version, reason=reason)
    target = f" back to version {asked.to_version}" if asked.to_version else ""
    what = f"{action.value} {name}{target} (namespace {api.namespace}, version {asked.version})"
    if not wait:
        out.print(
            f"asked: {what}; request {asked.id}; kubectl mlrollout get {name} shows the answer"
        )
        return
    err.print(f"asked: {what}; waiting up to {timeout:g}s for the operator's answer")
    with reported():
        record = controls.wait_for_answer(api, name, asked.id, timeout)
    if record is None:
        raise fail(
            f"no answer from the operator in {timeout:g}s: is the mlrollout operator running? "
            f"The request (id {asked.id}) stays on {name} and is answered when it runs"
        )
    out.print(render.answer_text(record))
    if not record.accepted:
        raise typer.Exit(1)


@app.command()
def approve(
    name: Name,
    wait: Wait = True,
    timeout: Timeout = 60,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
) -> None:
    """Let a promotion waiting in AwaitingApproval go on."""
    request(Action.APPROVE, name, (kubeconfig, context, namespace), wait, timeout)


@app.command()
def abort(
    name: Name,
    reason: Annotated[str, typer.Option(help="Why (recorded in status and history).")] = "",
    wait: Wait = True,
    timeout: Timeout = 60,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
) -> None:
    """Roll a running promotion back now."""
    where = (kubeconfig, context, namespace)
    request(Action.ABORT, name, where, wait, timeout, reason=reason)


@app.command()
def retry(
    name: Name,
    wait: Wait = True,
    timeout: Timeout = 60,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
) -> None:
    """Evaluate a rejected, rolled back or failed version again."""
    request(Action.RETRY, name, (kubeconfig, context, namespace), wait, timeout)


@app.command()
def undo(
    name: Name,
    to_version: Annotated[
        str | None, typer.Option(help="Serve this known-good version (default: the previous).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded in status and history).")] = "",
    wait: Wait = True,
    timeout: Timeout = 60,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
) -> None:
    """Serve the last known-good version again (or --to-version), without re-running gates."""
    where = (kubeconfig, context, namespace)
    request(Action.UNDO, name, where, wait, timeout, to_version=to_version, reason=reason)


# -- spec.paused ----------------------------------------------------------------------------
def set_paused(
    name: str, paused: bool, where: tuple[str | None, str | None, str | None], wait: bool,
    timeout: float,
) -> None:  # fmt: skip
    api = promotions(*where)
    word = "paused" if paused else "resumed"
    with reported():
        obj = api.get(name)
        if bool((obj.get("spec") or {}).get("paused", False)) == paused:
            out.print(f"{name} is already {'paused' if paused else 'not paused'}")
            return
        api.patch(name, {"spec": {"paused": paused}})
        out.print(f"{name}: spec.paused is {str(paused).lower()}")
        status = controls.wait_for_hold(api, name, paused, timeout) if wait else None
    if status is not None:
        out.print(f"{name} {word} by the operator in phase {status.current_phase.value}")
    elif wait:
        err.print(f"the operator has not {word} {name} within {timeout:g}s: is it running?")


@app.command()
def pause(
    name: Name,
    wait: Wait = True,
    timeout: Timeout = 10,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
) -> None:
    """Hold a promotion where it is (spec.paused); nothing new starts until resumed."""
    set_paused(name, True, (kubeconfig, context, namespace), wait, timeout)


@app.command()
def resume(
    name: Name,
    wait: Wait = True,
    timeout: Timeout = 10,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
) -> None:
    """Let a paused promotion go on."""
    set_paused(name, False, (kubeconfig, context, namespace), wait, timeout)


# -- dashboard ------------------------------------------------------------------------------
@app.command()
def dashboard(
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 3100,
    address: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    mlflow_url: Annotated[
        str | None, typer.Option(help="MLflow's UI, for links to runs and model versions.")
    ] = None,
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open a browser.")] = False,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
    all_namespaces: AllNamespaces = False,
) -> None:
    """Serve the read-only dashboard locally, through your kubeconfig, until Ctrl-C."""
    api = promotions(kubeconfig, context, namespace, all_namespaces)
    from mlrollout.dashboard.command import DashboardError, run_dashboard

    try:
        run_dashboard(
            api.connection.api,
            namespace=None if all_namespaces else api.namespace,
            address=address,
            port=port,
            mlflow_url=mlflow_url,
            open_browser=not no_open,
        )
    except DashboardError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        pass


def main() -> None:
    app(prog_name="kubectl mlrollout")
