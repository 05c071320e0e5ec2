"""One vocabulary across commands, read from the click tree so that a new command cannot drift:
the same ``--track`` names and ``--format`` choices everywhere, the ground-truth / query file is
``--gt`` (``--test-file`` survives only as a hidden alias of ``submit``), and predictions are
given with ``--pred``, never as bare arguments."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from osgnet_bench.cli import COMMANDS, cli, main
from osgnet_bench.report import FORMATS
from osgnet_bench.tracks import TRACK_NAMES

GT = Path(__file__).parent / "data" / "submissions" / "nlq_test_tiny.json"
GT_KEYS = [
    ("clip-1", "ann-1", 0),
    ("clip-1", "ann-1", 2),
    ("clip-1", "ann-2", 0),
    ("clip-2", "ann-3", 0),
    ("clip-2", "ann-3", 1),
]
# commands that read a ground-truth or test-query file
READS_GT = {"evaluate", "compare", "validate", "run", "submit"}
# commands that print results, and so take --format
PRINTS_RESULTS = {"evaluate", "compare", "validate", "run", "model-info", "train"}


def all_commands() -> dict[str, click.Command]:
    """Every leaf command of the CLI by its full name (``prepare annotations``), sub-groups walked."""
    context = click.Context(cli)
    found: dict[str, click.Command] = {}
    pending: list[tuple[str, click.Command]] = []
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert command is not None, name
        pending.append((name, command))
    while pending:
        name, command = pending.pop()
        if isinstance(command, click.Group):
            pending.extend((f"{name} {sub}", command.commands[sub]) for sub in command.commands)
        else:
            found[name] = command
    return found


def option(command: click.Command, flag: str) -> click.Option | None:
    return next((p for p in command.params if isinstance(p, click.Option) and flag in p.opts), None)


def cli_run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def write_predictions(path: Path, keys=GT_KEYS) -> str:
    rows = [
        {
            "query_id": f"{ann}_{idx}",
            "video_id": clip,
            "windows": [[1.0 + i, 5.0 + i] for i in range(5)],
            "scores": [0.9 - 0.1 * i for i in range(5)],
        }
        for clip, ann, idx in keys
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def test_the_shared_track_names_are_the_tracks_and_their_aliases():
    assert set(TRACK_NAMES) == {"nlq", "nlq_v1", "nlq_v2", "goalstep", "tacos"}
    assert len(TRACK_NAMES) == len(set(TRACK_NAMES))


def test_every_track_option_has_the_shared_choices():
    with_track = {name: option(command, "--track") for name, command in all_commands().items()}
    with_track = {name: opt for name, opt in with_track.items() if opt is not None}
    assert {"evaluate", "validate", "prepare annotations", "submit", "compare", "synth", "run"} <= set(with_track)
    for name, opt in with_track.items():
        assert isinstance(opt.type, click.Choice), f"{name} --track takes free text"
        assert tuple(opt.type.choices) == TRACK_NAMES, name


def test_every_format_option_has_the_shared_formats():
    commands = all_commands()
    with_format = {name for name, command in commands.items() if option(command, "--format") is not None}
    assert with_format >= PRINTS_RESULTS, f"missing --format: {sorted(PRINTS_RESULTS - with_format)}"
    for name in with_format:
        opt = option(commands[name], "--format")
        assert isinstance(opt.type, click.Choice) and tuple(opt.type.choices) == FORMATS, name
        assert opt.default == "table", name


def test_the_ground_truth_file_is_gt_everywhere_and_test_file_is_hidden():
    commands = all_commands()
    for name in READS_GT:
        assert option(commands[name], "--gt") is not None, f"{name} has no --gt"
    for name, command in commands.items():
        for opt in command.params:
            if isinstance(opt, click.Option) and "--test-file" in opt.opts:
                assert opt.hidden and name == "submit", name
    help_text = commands["submit"].get_help(click.Context(commands["submit"], info_name="submit"))
    assert "--gt" in help_text and "--test-file" not in help_text


def test_no_command_takes_prediction_files_as_arguments():
    commands = all_commands()
    for name, command in commands.items():
        arguments = [p for p in command.params if isinstance(p, click.Argument)]
        if option(command, "--pred") is not None:
            assert not arguments, f"{name} takes predictions both with --pred and as arguments"
        assert not any("pred" in (p.name or "") for p in arguments), name


def test_run_accepts_the_nlq_version_names(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("keep", encoding="utf-8")
    # the demo branch: nlq_v2 maps to the synthetic NLQ data and reaches the --out check
    code, _, err = cli_run(capsys, "run", "--track", "nlq_v2", "--out", not_a_dir)
    assert code == 1 and "--out" in err and "Invalid value" not in err, err
    assert not_a_dir.read_text(encoding="utf-8") == "keep"
    # with a config, nlq_v1 is accepted and the config file is what is missing
    code, _, err = cli_run(
        capsys, "run", "--track", "nlq_v1", "--config", tmp_path / "absent.yaml", "--out", tmp_path / "r"
    )
    assert code == 1 and "absent.yaml" in err and "Traceback" not in err, err


def test_run_demo_for_nlq_v1_says_what_the_demo_imitates(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli_run(capsys, "run", "--track", "nlq_v1")
    assert code == 1 and "nlq_v1" in err and "nlq_v2" in err and "--config" in err, err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def test_synth_accepts_track_names_and_refuses_nlq_v1_plainly(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("keep", encoding="utf-8")
    code, _, err = cli_run(capsys, "synth", "--track", "nlq_v2", "--out", target)
    assert code == 1 and "is a file" in err, err
    code, _, err = cli_run(capsys, "synth", "--track", "nlq_v1", "--out", tmp_path / "data")
    assert code == 1 and "nlq_v2" in err and not (tmp_path / "data").exists(), err
    assert target.read_text(encoding="utf-8") == "keep"


@pytest.mark.parametrize(
    "command", [["validate", "sub.json"], ["prepare", "annotations", "--raw", str(GT), "--out", "y"]]
)
def test_an_unknown_track_is_refused_naming_the_choices(capsys, command):
    code, _, err = cli_run(capsys, *command, "--track", "bogus")
    assert code == 2 and "bogus" in err and all(name in err for name in TRACK_NAMES), err


def test_submit_takes_gt_and_still_the_old_test_file_name(tmp_path, capsys):
    preds = write_predictions(tmp_path / "a.jsonl")
    for flag in ("--gt", "--test-file"):
        out = tmp_path / f"sub{flag}.json"
        code, stdout, err = cli_run(capsys, "submit", "--track", "nlq", "--pred", preds, flag, GT, "--out", out)
        assert code == 0, err
        assert len(json.loads(out.read_text(encoding="utf-8"))["results"]) == len(GT_KEYS)


def test_submit_refuses_prediction_files_as_arguments_with_the_way_out(tmp_path, capsys):
    a = write_predictions(tmp_path / "a.jsonl")
    b = write_predictions(tmp_path / "b.jsonl")
    out = tmp_path / "sub.json"
    code, _, err = cli_run(capsys, "submit", "--track", "nlq", "--pred", a, b, "--out", out)
    assert code == 2 and f"--pred {a} --pred {b}" in err, err
    assert not out.exists()


def test_submit_refuses_gt_and_test_file_naming_different_files(tmp_path, capsys):
    preds = write_predictions(tmp_path / "a.jsonl")
    other = tmp_path / "other.json"
    other.write_bytes(GT.read_bytes())
    out = tmp_path / "sub.json"
    code, _, err = cli_run(
        capsys, "submit", "--track", "nlq", "--pred", preds, "--gt", GT, "--test-file", other, "--out", out
    )
    assert code == 2 and "--gt" in err and "--test-file" in err, err
    assert not out.exists()


def test_validate_prints_every_shared_format(tmp_path, capsys):
    submission = tmp_path / "sub.json"
    results = [
        {"clip_uid": c, "annotation_uid": a, "query_idx": i, "predicted_times": [[1.0, 2.0]] * 5}
        for c, a, i in GT_KEYS[1:]
    ]
    submission.write_text(json.dumps({"version": "1.0", "challenge": "ego4d_nlq_challenge", "results": results}))
    outputs = {}
    for fmt in FORMATS:
        code, out, _ = cli_run(capsys, "validate", submission, "--track", "nlq", "--gt", GT, "--format", fmt)
        assert code == 1
        outputs[fmt] = out
    assert "INVALID" in outputs["table"] and json.loads(outputs["json"])["valid"] is False
    assert outputs["csv"].splitlines()[0] == "severity,kind,path,message" and "ann-1" in outputs["csv"]
    assert "INVALID" in outputs["markdown"] and "| severity" in outputs["markdown"]
