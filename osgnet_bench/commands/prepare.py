"""``osgnet-bench prepare``: turn official annotation files into the unified jsonl."""

from __future__ import annotations

from pathlib import Path

import click

from osgnet_bench.annotations import goalstep, tacos
from osgnet_bench.annotations.convert import records_to_jsonl_rows
from osgnet_bench.annotations.durations import read_video_durations
from osgnet_bench.annotations.load import read_annotation_json
from osgnet_bench.annotations.records import index_records
from osgnet_bench.commands.options import track_option
from osgnet_bench.errors import UserError
from osgnet_bench.files import looks_like_jsonl, read_json, require_writable, write_jsonl
from osgnet_bench.paths import refuse_output_among_inputs, say_overwrite
from osgnet_bench.tracks import get_track

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group(name="prepare")
def command() -> None:
    """Convert official annotation files to the one-query-per-line jsonl."""


@command.command(name="annotations")
@track_option("track_name", help="Benchmark track of the file (nlq is nlq_v2).")
@click.option(
    "--raw", "raw_path", required=True, type=EXISTING_FILE, help="Raw NLQ JSON, GoalStep release JSON or TACoS JSON."
)
@click.option(
    "--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The jsonl file to write."
)
@click.option("--split", default=None, help="Split of a TACoS JSON that holds several (train, val, test).")
@click.option(
    "--durations",
    "durations_path",
    type=EXISTING_FILE,
    default=None,
    help="GoalStep test only: video durations from a jsonl, ego4d.json or {video_uid: seconds}.",
)
@click.option(
    "--video-groups",
    "groups_path",
    type=EXISTING_FILE,
    default=None,
    help="GoalStep test only: goalstep_video_groups.tsv, to sum grp- video durations.",
)
def annotations_command(
    track_name: str,
    raw_path: Path,
    out_path: Path,
    split: str | None,
    durations_path: Path | None,
    groups_path: Path | None,
) -> None:
    """Convert one official annotation file to the unified jsonl.

    The lines are those of the reference conversion, byte for byte, without `label` entries.
    """
    track = get_track(track_name)
    if looks_like_jsonl(raw_path):
        raise UserError(f"{raw_path}: is already a jsonl annotation file; --raw takes an official JSON file.")
    inputs = {"--raw": raw_path, "--durations": durations_path, "--video-groups": groups_path}
    refuse_output_among_inputs(out_path, inputs)
    require_writable(out_path)
    data = read_json(raw_path)
    _check_options_fit(data, raw_path, split, durations_path, groups_path)
    durations = read_video_durations(durations_path, groups_path) if durations_path else None
    records = read_annotation_json(data, str(raw_path), track, split=split, durations=durations)
    index_records(records, str(raw_path))
    rows = records_to_jsonl_rows(records, track)
    say_overwrite(out_path, lambda line: click.echo(line, err=True))
    write_jsonl(out_path, rows, trailing_newline=False)
    textless = sum(not record.has_text for record in records)
    videos = len({record.video_id for record in records})
    click.echo(
        f"wrote {len(rows)} queries ({textless} textless skipped) from {videos} "
        f"video{'' if videos == 1 else 's'} to {out_path}"
    )


def _check_options_fit(
    data: object, raw_path: Path, split: str | None, durations_path: Path | None, groups_path: Path | None
) -> None:
    """Refuse options that do not apply to the file's format, instead of ignoring them."""
    if split is not None and not tacos.is_tacos_json(data):
        raise UserError(f"{raw_path}: --split applies only to a TACoS JSON holding several splits.")
    is_test_release = goalstep.is_goalstep_test(data)
    if (durations_path or groups_path) and not is_test_release:
        raise UserError(f"{raw_path}: --durations and --video-groups apply only to the GoalStep test release.")
    if groups_path and not durations_path:
        raise UserError("--video-groups needs --durations (the member videos' lengths).")
    if is_test_release and not durations_path:
        raise UserError(
            f"{raw_path}: the GoalStep test release carries no video durations, which every jsonl "
            "line needs. Pass --durations with a jsonl that has them (the shipped "
            "ego4d_goal_step_test_v2.jsonl), or ego4d.json together with --video-groups "
            "goalstep_video_groups.tsv; see docs/annotations.md."
        )
