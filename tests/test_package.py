"""Package-level guarantees: the core imports without torch, the CLI answers --help."""

import subprocess
import sys

from click.testing import CliRunner

from osgnet_bench.cli import COMMANDS, cli
from osgnet_bench.tracks import get_track, recall_key


def test_import_does_not_import_torch():
    code = (
        "import sys, osgnet_bench, osgnet_bench.cli, osgnet_bench.tracks, osgnet_bench.annotations;"
        "import osgnet_bench.cli as c; [__import__('osgnet_bench.commands.' + m) for m, _ in c.COMMANDS.values()];"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_track_aliases_and_keys():
    assert get_track("nlq").name == "nlq_v2"
    assert get_track("NLQ_V1").thresholds == (0.3, 0.5)
    assert recall_key(1, 0.3) == "R1@0.3"
    assert get_track("goalstep").rank_metric({"R1@0.3": 40.0, "R1@0.5": 30.0}) == 40.0
    assert get_track("nlq").rank_metric({"R1@0.3": 30.0, "R1@0.5": 20.0}) == 25.0
    assert get_track("tacos").rank_keys == ("R1@0.5",)
