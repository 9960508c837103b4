"""Commands of workbench.review. register() declares arguments only: no heavy imports here."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli_args import add_db_option, check_output_dir, integer, number, port, store_path

_WINDOW_S, _TIMEOUT_S = number(0.5, 600, what="seconds"), number(1, 86400, what="seconds")
_FRAMES = integer(0, 64, what="a number of frames")


def register(sub: Any) -> None:
    """Add ``biocoach review propose|serve|push|pull|status``."""
    p = sub.add_parser("review", help="expert review in Label Studio: propose labels, serve, push, pull, status")
    rsub = p.add_subparsers(title="review commands", metavar="STEP")

    def common(q: argparse.ArgumentParser, server: bool = True) -> None:
        add_db_option(q)
        q.add_argument("--config", type=Path, help="configuration file (default: biocoach.yaml)")
        if server:
            q.add_argument("--url", help="Label Studio URL (default: label_studio_url, else http://127.0.0.1:8080)")
            q.add_argument(
                "--data-dir",
                type=Path,
                help="Label Studio data folder with the token file and media (default: .labelstudio/)",
            )

    q = rsub.add_parser(
        "propose",
        help="ask the language model for salient joints per clip segment and/or "
        "static/dynamic roles per exercise; store them as 'proposed'",
    )
    q.add_argument("clips", nargs="*", type=Path, help="clips (video or pose file) to propose salient joints for")
    q.add_argument("--exercise", "-e", required=True, help="exercise key")
    q.add_argument("--roles", action="store_true", help="also propose static/dynamic per joint for the exercise")
    q.add_argument("--video", type=Path, help="the video experts watch, when the clip is a pose file")
    q.add_argument("--window-s", type=_WINDOW_S, default=4.0, help="segment length when no reps are found (s)")
    q.add_argument(
        "--frames",
        type=_FRAMES,
        default=None,
        help="frames sent per segment (default: 4 with an llm_endpoint, 0 with the local text-only model)",
    )
    q.add_argument("--export-dir", type=Path, help="where proposal JSON goes (default: annotations/proposals/)")
    q.add_argument(
        "--decoder",
        choices=("int8", "transformers"),
        default="int8",
        help="how the local model decodes: the coach's int8 FastDecoder (default, CPU) or plain transformers generate",
    )
    common(q, server=False)
    q.set_defaults(func=cmd_propose)

    q = rsub.add_parser("serve", help="run Label Studio on 127.0.0.1 (its own venv) until interrupted")
    q.add_argument("--port", type=port, default=8080)
    q.add_argument("--data-dir", type=Path, help="data folder (default: .labelstudio/)")
    q.add_argument("--timeout", type=_TIMEOUT_S, default=180.0, help="seconds to wait for /health (default 180)")
    q.set_defaults(func=cmd_serve)

    q = rsub.add_parser("push", help="create/update the review projects and add tasks for new proposals")
    common(q)
    q.set_defaults(func=cmd_push)

    q = rsub.add_parser("pull", help="bring completed annotations back as versioned labels (resumable)")
    common(q)
    q.set_defaults(func=cmd_pull)

    q = rsub.add_parser("status", help="proposals, labels and agreement figures from the store")
    common(q)
    q.set_defaults(func=cmd_status)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _db(args: argparse.Namespace) -> Any:
    from workbench.pipeline import default_database

    return default_database(store_path(args))


def _client(args: argparse.Namespace, token: bool = True) -> tuple[Any, Path]:
    from workbench.config import load_config
    from workbench.review.client import LabelStudioClient
    from workbench.review.server import DEFAULT_DATA_DIR, DEFAULT_PORT, api_token

    data_dir = (args.data_dir or DEFAULT_DATA_DIR).resolve()
    url = args.url or load_config(args.config).label_studio_url or f"http://127.0.0.1:{DEFAULT_PORT}"
    return LabelStudioClient(url, api_token(data_dir) if token else ""), data_dir


def cmd_propose(args: argparse.Namespace) -> int:
    from workbench.config import load_config
    from workbench.llm.client import LocalClient, OpenAICompatibleClient, get_client
    from workbench.review.proposals import DEFAULT_EXPORT_DIR, describe, propose_roles, propose_salient

    missing = [str(c) for c in args.clips if not c.is_file()]
    if missing:
        from workbench.errors import WorkbenchError

        raise WorkbenchError(f"review propose: expected clip files, got {', '.join(missing[:5])} (no such file)")
    export_dir = args.export_dir or DEFAULT_EXPORT_DIR
    check_output_dir(export_dir, "--export-dir")
    db = _db(args)  # before the language model loads: a refused store costs nothing
    config = load_config(args.config)
    client = get_client(config)
    if isinstance(client, LocalClient) and args.decoder == "int8" and config.device != "cuda":
        from workbench.review.decoding import FastLocalClient

        client = FastLocalClient(config.language_model, cache=config.model_cache_dir)
    frames = args.frames if args.frames is not None else (4 if isinstance(client, OpenAICompatibleClient) else 0)
    for clip in args.clips:
        report = propose_salient(
            db,
            clip,
            args.exercise,
            client,
            video=args.video,
            window_s=args.window_s,
            n_frames=frames,
            export_dir=export_dir,
        )
        for row in report.created:
            where = f"{clip.name} {row.segment} {row.start_s:.2f}-{row.end_s:.2f} s"
            print(f"{row.id}  {where}  {describe(row)}")
        if report.existing:
            print(f"{clip.name}: {len(report.existing)} proposal(s) already stored (same segments, same model)")
    if args.roles or not args.clips:
        report = propose_roles(db, args.exercise, client, export_dir=export_dir)
        for row in report.created:
            print(f"{row.id}  {args.exercise} roles {describe(row)}")
        if report.existing:
            print(f"{args.exercise}: static/dynamic proposal already stored ({report.existing[0]})")
    print(f"model: {client.model_name}; proposals exported to {export_dir}")
    return 0


class _Stop(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived: stop the server and what it spawned."""


def _raise_stop(signum: int, frame: Any) -> None:
    raise _Stop(signum)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run Label Studio until Ctrl-C, SIGTERM or SIGHUP (a closed terminal), then stop it and what it spawned."""
    import signal
    import time

    from workbench.review.server import DEFAULT_DATA_DIR, start_server

    data_dir = (args.data_dir or DEFAULT_DATA_DIR).resolve()
    print(
        f"starting Label Studio on http://127.0.0.1:{args.port} (data: {data_dir}; first start takes ~30 s) …",
        flush=True,
    )
    # SIGINT too, explicitly: a program started in the background by a non-interactive shell inherits SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler — Ctrl-C (or a script's kill -INT) would do
    # nothing and the server would run on.
    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, _raise_stop) for s in stops}
    server = None
    try:
        server = start_server(data_dir, port=args.port, timeout_s=args.timeout)  # stops it when interrupted
        print(
            f"Label Studio is up at {server.url}; log in as {server.credentials.username} (password and API "
            f"token: $BIOCOACH_LS_PASSWORD / $BIOCOACH_LS_TOKEN, or the files in {data_dir}). Ctrl-C stops it.",
            flush=True,
        )
        while server.process is not None and server.process.poll() is None:
            time.sleep(1.0)
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        for s in stops:  # a second signal must not cut the stop short
            signal.signal(s, signal.SIG_IGN)
        try:
            if server is not None:
                server.stop()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from workbench.review.sync import push

    db = _db(args)  # a refused --db is named before the server is asked anything
    client, data_dir = _client(args)
    print(push(db, client, data_dir).line())
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from workbench.review.sync import pull

    db = _db(args)
    client, _ = _client(args)
    print(pull(db, client).line())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from workbench.review.agreement import agreement
    from workbench.store.reviews import ReviewRepository

    db = _db(args)
    with db.session() as s:
        counts = ReviewRepository(s).counts()
    print("; ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no proposals yet")
    for line in agreement(db).lines():
        print(line)
    client, _ = _client(args, token=False)  # /health needs no token
    print(f"Label Studio at {client.url}: {'up' if client.healthy() else 'not answering'}")
    return 0
