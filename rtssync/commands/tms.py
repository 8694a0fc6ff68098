"""``rtssync tms serve``: the reference TMS server (DESIGN §5) over a SQLite file."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from rtssync.cli import CliContext
from rtssync.tms.faults import FaultConfig
from rtssync.tms.local import LocalBackend
from rtssync.tms.serve import listening_socket, serve_forever
from rtssync.tms.server import ServerConfig, create_app

_RATE = click.FloatRange(min=0.0, max=1.0)


@click.group("tms")
def command() -> None:
    """The TMS side: run the reference server."""


@command.command("serve")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".rtssync/tms.sqlite"),
    show_default=True,
    help="SQLite file holding the TMS state (created if missing; relative to -C).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8787, show_default=True)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Requests per second per token (Alvys: 10).",
)
@click.option(
    "--token-ttl",
    type=click.FloatRange(min=1.0),
    default=3600.0,
    show_default=True,
    help="Seconds an access token stays valid.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1024),
    default=256 * 1024,
    show_default=True,
    help="Larger request bodies get 413.",
)
@click.option(
    "--fault-latency-ms",
    type=click.FloatRange(min=0.0),
    default=0.0,
    help="Added to every request.",
)
@click.option(
    "--fault-error-rate",
    type=_RATE,
    default=0.0,
    help="Fraction of requests answered 500, 503 or 429.",
)
@click.option(
    "--fault-drop-rate",
    type=_RATE,
    default=0.0,
    help="Fraction of connections dropped without a response (before or after "
    "the request is handled).",
)
@click.option("--fault-seed", type=int, default=None, help="Makes the faults reproducible.")
@click.pass_obj
def serve(
    context: CliContext,
    db_path: Path,
    host: str,
    port: int,
    rate_limit: float,
    token_ttl: float,
    max_body_bytes: int,
    fault_latency_ms: float,
    fault_error_rate: float,
    fault_drop_rate: float,
    fault_seed: int | None,
) -> None:
    """Serve the TMS contract (schemas/tms-api.yaml) over the SQLite file DB.

    The one accepted client is RTSSYNC_TMS_CLIENT_ID / RTSSYNC_TMS_CLIENT_SECRET.
    """
    if fault_error_rate + fault_drop_rate > 1.0:
        raise click.BadParameter("--fault-error-rate plus --fault-drop-rate must be at most 1")
    faults = FaultConfig(fault_latency_ms, fault_error_rate, fault_drop_rate, fault_seed)
    config = ServerConfig.from_env(
        rate_limit=rate_limit, token_ttl=token_ttl, max_body_bytes=max_body_bytes, faults=faults
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    db_path = context.root / db_path  # relative to the repository root (-C), like tms.path
    # Bound before the store is opened and the banner printed, so a port in use is one error.
    with listening_socket(host, port) as sock, LocalBackend(db_path) as store:
        click.echo(f"rtssync TMS server on http://{host}:{port} over {db_path}", err=True)
        serve_forever(create_app(store, config), sock)
