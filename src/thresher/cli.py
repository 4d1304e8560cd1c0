"""The ``thresher`` command line.

Exit status: 0 success; 2 usage, recipe, input-path or output-path errors (nothing ran);
1 a failed run (its books are still written).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from importlib import resources

from thresher.errors import (
    AccountingError,
    ConfigError,
    InputError,
    OutputError,
    RunFailedError,
    ThresherError,
)
from thresher.finetune.cli import add_parser as add_finetune_parser

# thresher.export's FORMATS, spelled here so `thresher --help` does not import pyarrow
EXPORT_FORMATS = ("openai", "sharegpt", "alpaca", "text")

DEFAULT_RECIPE = "pipelines/default.yaml"  # in a checkout; else the packaged copy


def default_recipe() -> str:
    """``pipelines/default.yaml`` where it exists (a checkout), else the copy shipped inside
    the package, so a pip-installed ``thresher run --input X --output Y`` works anywhere."""
    if os.path.isfile(DEFAULT_RECIPE):
        return DEFAULT_RECIPE
    return str(resources.files("thresher") / "data" / "default.yaml")


def _offline_environment() -> None:
    # Presidio's tldextract must use its bundled suffix list; HF libraries must not call home.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _check_beam_args(beam_args: Sequence[str]) -> list[str]:
    """Reject options Beam does not know: Beam itself only warns and drops them, which turns
    a typo such as ``--ouput`` into a silently ignored flag. Returns the positional arguments
    that neither thresher nor Beam took (the caller decides whether one is the recipe)."""
    if not beam_args:
        return []  # nothing to check, and no Beam import before the warm server starts
    from apache_beam.options.pipeline_options import PipelineOptions

    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    seen: set[type] = set()
    stack = list(PipelineOptions.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        # Beam's own registration hook; an option registered by two classes raises.
        with contextlib.suppress(argparse.ArgumentError):
            cls._add_argparse_args(parser)  # type: ignore[arg-type]
    _, unknown = parser.parse_known_args(list(beam_args))
    flags = [u for u in unknown if u.startswith("-")]
    if flags:
        raise ConfigError(
            f"unknown option(s) {', '.join(flags)}: not a thresher option nor a Beam pipeline "
            "option; see `thresher run --help`"
        )
    return list(unknown)


_RUN_DESCRIPTION = (
    "Run a recipe. Options thresher does not know pass to Beam unchanged (--runner, "
    "--direct_num_workers, --project, --temp_location, ...). Without --runner, thresher uses "
    "Beam's FnApiRunner locally (no network)."
)


def _add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--input", action="append", metavar="PATTERN", help="replaces input.paths")
    run.add_argument("--output", metavar="DIR", help="replaces output.path")
    run.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key"
    )
    run.add_argument(
        "--dedup-against",
        action="append",
        metavar="DIR",
        help="an earlier output whose index/ new records are deduplicated against "
        "(repeatable; replaces dedup.near.against)",
    )
    run.add_argument(
        "--batch-records",
        type=int,
        metavar="N",
        help="local runners: run inputs larger than N positions in batches of N, resumable "
        "(replaces local.batch_records; 0: never batch)",
    )
    run.add_argument("--overwrite", action="store_true", help="replace a previous output")
    run.add_argument("--quiet", action="store_true", help="no progress lines or summary")


def _parse_run(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """``run [RECIPE] [options] [BEAM OPTIONS]``. The recipe is taken by hand (the first
    argument, when it is not an option): an argparse positional would swallow the value of a
    Beam option such as ``--direct_num_workers 2``."""
    recipe = argv[0] if argv and not argv[0].startswith("-") else None
    tail = argv[1:] if recipe else argv
    parser = argparse.ArgumentParser(prog="thresher run", allow_abbrev=False, add_help=False)
    _add_run_options(parser)
    args, rest = parser.parse_known_args(tail)
    args.command = "run"
    args.recipe = recipe
    return args, rest


def _take_recipe(args: argparse.Namespace, beam_args: list[str]) -> list[str]:
    """Find the recipe wherever it stands (``run --quiet my.yaml`` works) and reject any other
    argument that neither thresher nor Beam understands: never a silent default."""
    stray = _check_beam_args(beam_args)
    if stray and args.recipe is None and len(stray) == 1:
        args.recipe = stray[0]
        beam_args = [a for a in beam_args if a != stray[0]]
        stray = []
    if stray:
        raise ConfigError(
            f"unexpected argument(s) {' '.join(repr(s) for s in stray)}: `thresher run` takes "
            "one recipe (the first argument, or anywhere among the options) and options; see "
            "`thresher run --help`"
        )
    if args.recipe is None:
        args.recipe = default_recipe()
    return beam_args


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thresher",
        description="Curate raw text corpora into clean, deduplicated, privacy-safe datasets.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="run a curation recipe",
        description=_RUN_DESCRIPTION,
        allow_abbrev=False,
    )
    run.add_argument(
        "recipe", nargs="?", help="YAML recipe (default: pipelines/default.yaml, else built-in)"
    )
    _add_run_options(run)

    val = sub.add_parser(
        "validate", help="check a recipe against the schema and that its input paths match files"
    )
    val.add_argument("recipe")
    val.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    val.add_argument("--input", action="append", metavar="PATTERN", help="replaces input.paths")

    rcp = sub.add_parser(
        "recipe",
        help="print the built-in default recipe, or write a copy to edit",
        description="Print thresher's default recipe (every key with its default) to stdout, "
        "or write it to PATH with --write PATH (never over an existing file).",
    )
    rcp.add_argument("--write", metavar="PATH", help="write the recipe to PATH instead")

    exp = sub.add_parser("explain", help="the full history of one input record")
    exp.add_argument("dir")
    exp.add_argument("record_id")
    exp.add_argument("--json", action="store_true", help="machine-readable output")

    rep = sub.add_parser("report", help="re-render report.html and README.md from the manifest")
    rep.add_argument("dir")

    add_finetune_parser(sub)

    fgt = sub.add_parser(
        "forget",
        help="erase a data subject: records holding a PII value, or listed ids",
        description="Erase records that held a value (matched through the keyed hashes stored "
        "at anonymization time; the value is never written anywhere) or the ids in a file. "
        "Rewrites shards atomically, updates lineage, index and manifest, writes a receipt.",
    )
    fgt.add_argument("dir")
    who = fgt.add_mutually_exclusive_group(required=True)
    who.add_argument("--value", help="the PII value to erase (e.g. an e-mail address)")
    who.add_argument("--ids", metavar="FILE", help="a file of record ids, one per line")
    fgt.add_argument(
        "--entity",
        help="restrict --value to one entity type of this output's PII stage, e.g. "
        "EMAIL_ADDRESS (an unknown type is an error that lists the valid ones)",
    )
    fgt.add_argument("--key-file", help="the run's key file when the recipe's key is elsewhere")
    fgt.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    fgt.add_argument(
        "--json",
        action="store_true",
        help="print the result as JSON: dry_run, would_change, changed (booleans), counts, "
        "ids, shards",
    )

    aud = sub.add_parser(
        "audit",
        help="rescan an output for residual PII and measure canary recall",
        description="Rescan kept records with a high-recall configuration (residual PII rate "
        "per entity type, 95% interval, records to look at by id/type/offset) and inject "
        "synthetic PII into copies of sampled records to measure recall. Results go into the "
        "output's manifest.json under `audit`.",
    )
    aud.add_argument("dir")
    aud.add_argument("--sample", type=int, default=1000, help="records to rescan (default 1000)")
    aud.add_argument("--canaries", type=int, default=100, help="records to plant canaries in")
    aud.add_argument("--seed", type=int, default=0, help="sample seed")
    shown = aud.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print the full result as JSON")
    shown.add_argument(
        "--show",
        type=int,
        default=0,
        metavar="N",
        help="also print up to N flagged spans with a little context, marked by entity type "
        "and score, for review: to this terminal only (never to a file or the manifest; what "
        "the audit records is the same with or without --show)",
    )

    rid = sub.add_parser(
        "reidentify",
        help="restore encrypted PII values into a new directory (key holders only)",
    )
    rid.add_argument("dir")
    rid.add_argument("--key-file", required=True, help="the key file of the run")
    rid.add_argument("--output", required=True, metavar="DIR", help="new directory to write")

    xpt = sub.add_parser(
        "export",
        help="write the kept records as trainer-ready JSON Lines",
        description="Write DIR's kept records to PATH (any Beam path; .gz compresses), one "
        "JSON object per line in record-id order: openai {messages}, sharegpt {conversations}, "
        "alpaca {instruction, input, output} (single exchanges only), text {text}. A format "
        "that cannot hold every record is refused and nothing is written.",
    )
    xpt.add_argument("dir")
    xpt.add_argument("--format", required=True, choices=EXPORT_FORMATS, dest="export_format")
    xpt.add_argument("--output", required=True, metavar="PATH", help="the JSONL file to write")
    xpt.add_argument("--id", action="store_true", dest="with_id", help="add each record's id")
    xpt.add_argument("--overwrite", action="store_true", help="replace an existing PATH")

    sch = sub.add_parser("schemas", help="export the Parquet and recipe schemas")
    sch.add_argument("dir", nargs="?", default="schemas")
    return parser


def _load(
    recipe: str,
    overrides: Sequence[str],
    input_paths=None,
    output=None,
    against=None,
    batch_records=None,
):
    from thresher.config import load_config

    extra = {}
    if batch_records is not None:
        if batch_records < 0:
            raise ConfigError(f"--batch-records {batch_records}: use a positive number, or 0")
        extra["local.batch_records"] = batch_records or None
    if input_paths:
        extra["input.paths"] = list(input_paths)
    if output:
        extra["output.path"] = output
    if against:
        extra["dedup.near.against"] = list(against)
    return load_config(recipe, overrides, extra)


def _cmd_run(args: argparse.Namespace, beam_args: list[str]) -> int:
    from thresher import warm
    from thresher.construction import gc_paused, without_pandas
    from thresher.cores import local_workers

    beam_args = _take_recipe(args, beam_args)
    with quiet_worker_chatter():
        # the warm server imports Beam while this process reads the recipe and measures the
        # free cores; it loads the workers' models while this process imports Beam
        early = warm.spawn() if warm.may_serve(beam_args) else None
        try:
            with gc_paused():  # what is loaded here lives on: nothing to collect
                config = _load(
                    args.recipe,
                    args.set,
                    args.input,
                    args.output,
                    args.dedup_against,
                    args.batch_records,
                )
            if not args.quiet and os.environ.get("THRESHER_PROGRESS") is None:
                os.environ["THRESHER_PROGRESS"] = "1"
            workers = local_workers(config, beam_args, helpers=[early.proc.pid] if early else [])
        except BaseException:
            if early is not None:
                early.close()
            raise
        with warm.serving(config, workers, early=early):
            with gc_paused(), without_pandas():
                from thresher.run import execute, print_summary

            outcome = execute(
                config,
                beam_args,
                overwrite=args.overwrite,
                recipe_path=args.recipe,
                workers=workers,
            )
    if not args.quiet:
        print_summary(outcome.manifest)
    if not outcome.succeeded:
        print(f"thresher: run failed: {outcome.manifest.failure}", file=sys.stderr)
        return 1
    print(f"wrote {config.output.path}", file=sys.stderr)
    return 0


# Beam warnings that say nothing actionable to a thresher user: a missing GCP client, an
# undeclared output tag, a worker with no semi-persistent directory.
_BEAM_NOISE = (
    "apitools not found",
    "requested in with_outputs() but not declared",
    "No semi_persistent_directory found",
)
# What Beam's local worker processes write to the standard error they inherit, besides
# thresher's progress: Beam sets their logging to INFO (the runner passes them no option to
# change it), so channel set-up, harness state and libraries' INFO lines (``INFO:name:...``)
# reach the terminal, and the warnings above. The CLI logs at WARNING; the workers' other
# warnings, their errors and thresher's progress lines are kept.
_WORKER_CHATTER = re.compile(
    rb"INFO:[\w.\-]+:|WARNING:[\w.\-]+:.*(?:"
    + b"|".join(re.escape(n.encode()) for n in _BEAM_NOISE)
    + rb")"
)


@contextlib.contextmanager
def quiet_worker_chatter(fd: int = 2) -> Iterator[None]:
    """While the block runs, lines written to ``fd`` (standard error, which local worker
    processes inherit) pass through a pipe that drops Beam's worker chatter
    (``_WORKER_CHATTER``) and forwards every other line unchanged, in order."""
    sys.stderr.flush()
    try:
        saved = os.dup(fd)
    except OSError:  # standard error closed (``2>&-``): nothing to filter
        yield
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, fd)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as lines:
            for line in lines:
                if not _WORKER_CHATTER.match(line):
                    os.write(saved, line)

    forwarder = threading.Thread(target=pump, name="thresher-stderr", daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, fd)  # the pipe ends once the workers holding it have exited too
        forwarder.join(timeout=10)
        if not forwarder.is_alive():
            os.close(saved)


class _QuietBeamNoise(logging.Filter):
    """Drop ``_BEAM_NOISE`` from this process's log (the job service forwards workers'
    warnings here too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not any(n in msg for n in _BEAM_NOISE)


def _cmd_validate(args: argparse.Namespace) -> int:
    from thresher.io.read import resolve_inputs

    cfg = _load(args.recipe, args.set, args.input)
    files = resolve_inputs(cfg.input.paths, cfg.input.exclude)
    print(
        f"ok: {args.recipe} is a valid recipe (hash {cfg.recipe_hash()[:12]}); "
        f"input.paths match {len(files)} file(s)"
    )
    return 0


def _cmd_recipe(args: argparse.Namespace) -> int:
    text = (resources.files("thresher") / "data" / "default.yaml").read_text(encoding="utf-8")
    if not args.write:
        sys.stdout.write(text)
        return 0
    if os.path.exists(args.write):
        raise OutputError(f"--write {args.write!r} exists; choose a new file name")
    with open(args.write, "x", encoding="utf-8") as fh:
        fh.write(text)
    print(f"wrote {args.write}; edit it, then `thresher run {args.write}`", file=sys.stderr)
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from thresher.explain import explain, render

    story = explain(args.dir, args.record_id)
    print(json.dumps(story, indent=2, default=str) if args.json else render(story))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from thresher.report import rerender

    print(rerender(args.dir))
    return 0


def _cmd_finetune(args: argparse.Namespace) -> int:
    from thresher.finetune.cli import run as run_finetune

    return int(run_finetune(args))


def _cmd_forget(args: argparse.Namespace) -> int:
    from thresher.forget import forget, read_ids
    from thresher.forget import render as render_forget

    result = forget(
        args.dir,
        value=args.value,
        entity=args.entity,
        ids=read_ids(args.ids) if args.ids else (),
        key_file=args.key_file,
        dry_run=args.dry_run,
    )
    print(json.dumps(result, indent=2, sort_keys=True) if args.json else render_forget(result))
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from thresher.pii.audit import audit
    from thresher.pii.audit import render as render_audit

    found = audit(args.dir, sample=args.sample, canaries=args.canaries, seed=args.seed)
    print(json.dumps(found, indent=2) if args.json else render_audit(found))
    if args.show:
        from thresher.pii.audit import show_flagged

        print(show_flagged(args.dir, found, args.show))
    return 0


def _cmd_reidentify(args: argparse.Namespace) -> int:
    from thresher.pii.reidentify import reidentify

    summary = reidentify(args.dir, args.key_file, args.output)
    print(
        f"restored {summary['values_restored']} values in {summary['records']} records "
        f"into {args.output}"
    )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from thresher.export import export

    done = export(args.dir, args.export_format, args.output, args.with_id, args.overwrite)
    print(f"wrote {done.records} records ({done.fmt}) to {done.path}")
    return 0


def _cmd_schemas(args: argparse.Namespace) -> int:
    from thresher.schema import export_schemas

    for exported in export_schemas(args.dir):
        print(exported)
    return 0


_COMMANDS = {
    "validate": _cmd_validate,
    "recipe": _cmd_recipe,
    "explain": _cmd_explain,
    "report": _cmd_report,
    "finetune": _cmd_finetune,
    "forget": _cmd_forget,
    "audit": _cmd_audit,
    "reidentify": _cmd_reidentify,
    "export": _cmd_export,
    "schemas": _cmd_schemas,
}


def main(argv: Sequence[str] | None = None) -> int:
    _offline_environment()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_QuietBeamNoise())
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "run" and not {"-h", "--help"} & set(argv[1:]):
        args, rest = _parse_run(argv[1:])
    else:
        args, rest = parser.parse_known_args(argv)
    if args.command != "run" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "run":
            return _cmd_run(args, rest)
        return _COMMANDS[args.command](args)
    except (ConfigError, InputError, OutputError) as exc:
        print(f"thresher: {exc}", file=sys.stderr)
        return 2
    except (RunFailedError, AccountingError) as exc:
        print(f"thresher: run failed: {exc}", file=sys.stderr)
        return 1
    except ThresherError as exc:
        print(f"thresher: {exc}", file=sys.stderr)
        return 1


def console() -> None:
    """The ``thresher`` command: ``main``, then exit without tearing down what it built.

    The process ends here, so nothing it holds needs the collector any more: frozen, the
    interpreter's exit skips its final collections over Beam, the pipeline graph and, on one
    worker, the PII models (0.5-0.9 s). ``main`` itself, which tests call in-process, leaves
    the collector alone."""
    status = main()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    console()
