"""The one config loader: its coercion rules, unknown keys at every depth, repeated YAML keys, and
every value check, the last ones through ``osgnet-bench train`` (exit 1, the key named, nothing
written)."""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
import yaml
from conftest import shared_dir
from tiny_model import tiny_config_document

from osgnet_bench.cli import main
from osgnet_bench.config_reader import ConfigValueError, describe, read_section, setting
from osgnet_bench.errors import UserError
from trainers.config import load_run_config, parse_run_config

REPO_CONFIGS = Path(__file__).resolve().parent.parent / "configs"
REFERENCE_CONFIGS = shared_dir() / "reference" / "configs"
DEAD_REFERENCE_CONFIG = "Ego4D-NLQ/v2/ego4d_nlq_v2_object_bimamba1_noobj_mlp_pretrainall_2e-4.yaml"


# ------------------------------------------------------------------------------------------------
# coercion rules
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Inner:
    size: int = 1


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One field per kind of type the reader supports."""

    count: int = 0
    rate: float = 0.5
    limit: float = setting(1.0, allow_non_finite=True)
    flag: bool = False
    name: str = "x"
    where: Path | None = None
    maybe: int | None = None
    words: tuple[str, ...] = ()
    pair: tuple[int, float] = (1, 1.0)
    mode: Literal["a", "b"] = "a"
    one: Literal[1] = 1
    cap: int = setting(5, minimum=0, false_means=0)
    positive: float = setting(1.0, exclusive_minimum=0.0)
    fraction: float = setting(0.5, minimum=0.0, exclusive_maximum=1.0)
    inner: Inner = field(default_factory=Inner)


ACCEPTED = [
    ("count", 3, 3), ("count", 3.0, 3), ("count", -2, -2), ("count", 2**63 - 1, 2**63 - 1),
    ("rate", 2, 2.0), ("rate", 0.25, 0.25), ("rate", 1e-4, 1e-4),
    ("limit", math.inf, math.inf),
    ("flag", True, True), ("flag", False, False),
    ("name", "relu", "relu"),
    ("where", "a/b", Path("a/b")), ("where", None, None),
    ("maybe", None, None), ("maybe", 4.0, 4),
    ("words", ["a", "b"], ("a", "b")), ("words", [], ()),
    ("pair", [2, 3], (2, 3.0)),
    ("mode", "b", "b"), ("one", 1.0, 1),
    ("cap", False, 0), ("cap", 7, 7),
    ("positive", 1e-9, 1e-9), ("fraction", 0, 0.0),
    ("inner", {"size": 4}, Inner(size=4)), ("inner", {}, Inner()),
]

REFUSED = [
    ("count", True, r"sample.count: must be an integer, got true"),
    ("count", 2.5, r"sample.count: must be an integer, got 2.5"),
    ("count", "3", r"sample.count: must be an integer, got '3'"),
    ("count", None, r"sample.count: must be an integer, got null"),
    ("count", 2**63, r"sample.count: must be a 64-bit integer"),
    ("count", 10**5000, r"sample.count: must be a 64-bit integer .*got an integer of about 5001 digits"),
    ("count", math.nan, r"sample.count: must be an integer, got nan"),
    ("rate", False, r"sample.rate: must be a number, got false"),
    ("rate", "1e-4", r"sample.rate: must be a number, got '1e-4'"),
    ("rate", math.nan, r"sample.rate: must be a finite number, got nan"),
    ("rate", -math.inf, r"sample.rate: must be a finite number, got -inf"),
    ("rate", 10**400, r"sample.rate: must be a finite number, got an integer of about 401 digits"),
    ("flag", 1, r"sample.flag: must be true or false, got 1"),
    ("flag", 0, r"sample.flag: must be true or false, got 0"),
    ("flag", "true", r"sample.flag: must be true or false, got 'true'"),
    ("name", 5, r"sample.name: must be a string, got 5"),
    ("name", True, r"sample.name: must be a string, got true"),
    ("where", "", r"sample.where: must be a path"),
    ("where", 3, r"sample.where: must be a path"),
    ("words", "ab", r"sample.words: must be a list, got 'ab'"),
    ("words", ["a", 1], r"sample.words\[1\]: must be a string, got 1"),
    ("words", [10**5000], r"sample.words\[0\]: must be a string, got an integer of about 5001 digits"),
    ("pair", [1], r"sample.pair: must be a list of 2 items, got 1"),
    ("pair", [1, "x"], r"sample.pair\[1\]: must be a number, got 'x'"),
    ("mode", "c", r"sample.mode: must be one of: a, b; got 'c'"),
    ("one", 2, r"sample.one: must be 1; got 2"),
    ("one", True, r"sample.one: must be 1; got true"),
    ("cap", True, r"sample.cap: must be an integer, got true"),
    ("cap", -1, r"sample.cap: must be >= 0, got -1"),
    ("positive", 0, r"sample.positive: must be > 0, got 0"),
    ("fraction", 1, r"sample.fraction: must be in \[0, 1\), got 1"),
    ("inner", 3, r"sample.inner: must be a mapping of keys to values, got 3"),
    ("inner", {"sise": 1}, r"sample.inner.sise: unknown key; valid keys in sample.inner: size\."),
    ("inner", {"size": "1"}, r"sample.inner.size: must be an integer, got '1'"),
]


def _ids(cases: list[tuple]) -> list[str]:
    """Test ids that never print a value (pytest would stringify a 5000-digit integer)."""
    return [f"{case[0]}-{index}" for index, case in enumerate(cases)]


@pytest.mark.parametrize(("key", "value", "expected"), ACCEPTED, ids=_ids(ACCEPTED))
def test_coercion_accepts(key, value, expected):
    assert getattr(read_section(Sample, {key: value}, "c.yaml", "sample"), key) == expected


@pytest.mark.parametrize(("key", "value", "message"), REFUSED, ids=_ids(REFUSED))
def test_coercion_refuses_with_the_file_and_key(key, value, message):
    with pytest.raises(UserError, match=f"^c.yaml: {message}"):
        read_section(Sample, {key: value}, "c.yaml", "sample")


def test_unknown_and_missing_keys_and_validate():
    @dataclass(frozen=True, kw_only=True)
    class Section:
        UNUSED_KEYS = frozenset({"legacy"})
        low: int
        high: int = 10

        def validate(self) -> None:
            if self.low >= self.high:
                raise ConfigValueError("low", f"must be below high ({self.high}), got {self.low}.")

    assert read_section(Section, {"low": 1, "legacy": [1, {"any": "thing"}]}, "c.yaml", "s").low == 1
    with pytest.raises(UserError, match=r"^c.yaml: s.hgh: unknown key; valid keys in s: high, legacy, low\.$"):
        read_section(Section, {"low": 1, "hgh": 2}, "c.yaml", "s")
    with pytest.raises(UserError, match=r"^c.yaml: s.low: required key is missing\.$"):
        read_section(Section, {}, "c.yaml", "s")
    with pytest.raises(UserError, match=r"^c.yaml: s.low: must be below high \(10\), got 12\.$"):
        read_section(Section, {"low": 12}, "c.yaml", "s")
    with pytest.raises(UserError, match=r"^c.yaml: typo: unknown key; valid keys at the top level: high, legacy"):
        read_section(Section, {"low": 1, "typo": 2}, "c.yaml")


def test_describe_never_fails():
    assert describe(10**10000) == "an integer of about 10001 digits"
    assert describe((1, 2, 10**5000)) == "a tuple holding an integer too long to print"
    assert describe("x" * 500).endswith("...") and len(describe("x" * 500)) == 80
    assert describe(None) == "null" and describe(True) == "true" and describe({"a": 1}) == "a mapping"


# ------------------------------------------------------------------------------------------------
# unknown keys anywhere, in files and through --set
# ------------------------------------------------------------------------------------------------

def _document() -> dict:
    document = tiny_config_document()
    document.update(opt={"learning_rate": 1e-3, "epochs": 1, "warmup_epochs": 0}, loader={"batch_size": 2},
                    trainer={"device": "cpu"}, train_cfg={"clip_grad_l2norm": 1.0}, test_cfg={"test_start_epoch": 0})
    return document


UNKNOWN_KEYS = [
    ([], "trainr", r"trainr: unknown key; valid keys at the top level: dataset, dataset_name, devices"),
    (["dataset"], "max_seq", r"dataset.max_seq: unknown key; valid keys in dataset: .*max_seq_len"),
    (["opt"], "lr", r"opt.lr: unknown key; valid keys in opt: backbone_lr_weight, early_stop_epochs, epochs"),
    (["loader"], "workers", r"loader.workers: unknown key; valid keys in loader: batch_size, num_workers\."),
    (["trainer"], "ema", r"trainer.ema: unknown key; valid keys in trainer: cpu_threads, deterministic, device"),
    (["train_cfg"], "clip", r"train_cfg.clip: unknown key; valid keys in train_cfg: .*clip_grad_l2norm"),
    (["test_cfg"], "start", r"test_cfg.start: unknown key; valid keys in test_cfg: .*test_start_epoch"),
    (["model"], "n_heads", r"model.n_heads: unknown key; valid keys in model: .*video_encoder_cfg"),
    (["model", "text_encoder_cfg", 0], "use_ape", r"model.text_encoder_cfg\[0\].use_ape: unknown key; valid keys"),
    (["model", "text_encoder_cfg", 1, "layer_cfg"], "n_hed",
     r"model.text_encoder_cfg\[1\].layer_cfg.n_hed: unknown key; valid keys in model.text_encoder_cfg\[1\].layer_cfg: "
     r"attn_pdrop, mha_win_size, n_ds_strides, n_embd, n_head"),
    (["model", "video_encoder_cfg", 0, "layer_cfg"], "n_hiden",
     r"model.video_encoder_cfg\[0\].layer_cfg.n_hiden: unknown key; .*n_hidden"),
    (["model", "video_encoder_cfg", 1, "layer_cfg"], "arch",
     r"model.video_encoder_cfg\[1\].layer_cfg.arch: unknown key; .*mamba_arch"),
    (["model", "obj_encoder_cfg", 1, "layer_cfg"], "win",
     r"model.obj_encoder_cfg\[1\].layer_cfg.win: unknown key; .*mha_win_size"),
    (["model", "multiscale_encoder_cfg", 1, "layer_cfg"], "out_channels",
     r"model.multiscale_encoder_cfg\[1\].layer_cfg.out_channels: unknown key; .*out_channel\b"),
    (["model", "nlq_heads_cfg"], "max_segs", r"model.nlq_heads_cfg.max_segs: unknown key; .*max_seg_num"),
    (["model", "nlq_heads_cfg", "cls_head_cfg"], "prior_prb",
     r"model.nlq_heads_cfg.cls_head_cfg.prior_prb: unknown key; valid keys in model.nlq_heads_cfg.cls_head_cfg: "
     r"empty_cls, feat_dim, input_dim, kernel_size, num_classes, num_layers, prior_prob, with_ln\."),
    (["model", "nlq_heads_cfg", "reg_head_cfg"], "levels",
     r"model.nlq_heads_cfg.reg_head_cfg.levels: unknown key; .*fpn_levels"),
    (["model", "vtm_heads_cfg"], "weight", r"model.vtm_heads_cfg.weight: unknown key; .*loss_weight"),
    (["model", "vtm_heads_cfg", "shot_aggregator_cfg", "layer_cfg"], "queries",
     r"model.vtm_heads_cfg.shot_aggregator_cfg.layer_cfg.queries: unknown key; .*query_num"),
    (["model", "vtm_heads_cfg", "shot_aggregator_cfg", "layer_cfg", "self_mixer_cfg", "block_cfg"], "heads",
     r"model.vtm_heads_cfg.shot_aggregator_cfg.layer_cfg.self_mixer_cfg.block_cfg.heads: unknown key; "
     r"valid keys in .*block_cfg: n_embd, n_head\."),
    (["model", "vtm_heads_cfg", "similarity_head_cfg", "layer_cfg"], "dim",
     r"model.vtm_heads_cfg.similarity_head_cfg.layer_cfg.dim: unknown key; .*con_dim"),
    (["model", "quirks"], "half_clip", r"model.quirks.half_clip: unknown key; .*half_clip_time_offset"),
]


def _section(document: dict, path: list) -> dict:
    node = document
    for part in path:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    return node


@pytest.mark.parametrize(("path", "key", "message"), UNKNOWN_KEYS)
def test_unknown_keys_at_every_depth_list_the_valid_ones(path, key, message):
    document = _document()
    _section(document, path)[key] = 1
    with pytest.raises(UserError, match=f"^doc.yaml: {message}"):
        parse_run_config(document, "doc.yaml")


@pytest.mark.parametrize(("path", "key", "message"), UNKNOWN_KEYS)
def test_unknown_keys_through_set_are_refused_too(path, key, message):
    dotted = ".".join(str(part) for part in [*path, key])
    with pytest.raises(UserError, match=f"^doc.yaml: {message}"):
        parse_run_config(_document(), "doc.yaml", [f"{dotted}=1"])


def test_keys_the_reference_ignores_are_accepted():
    document = _document()
    document.update(dataset_name="ego4d", devices="cuda:0", train_split=["training"], val_split=["validation"],
                    output_folder="./ckpt", model_name="MultiTaskArch")
    document["model"].update(generator={"generator_type": "point"}, backbone_arch=[2, 4, 4, 0, 6], max_query=5,
                             use_abs_pe=True, max_seq_len=99)
    document["train_cfg"].update(init_loss_norm=200, mamba_arch=["bimamba1", "mlp", "obj"], droppath=0.1)
    document["test_cfg"].update(voting_thresh=0.9, nms_sigma=0.75, test_num=1)
    assert parse_run_config(document, "doc.yaml").model.max_seq_len == 1024


# ------------------------------------------------------------------------------------------------
# YAML: repeated keys, huge integers
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("opt:\n  epochs: 1\n  learning_rate: 1.0e-3\n  epochs: 2\n",
     r"invalid YAML at line 4, column 3: duplicate key `epochs` \(first at line 2\)"),
    ("opt: {epochs: 1}\nloader: {}\nopt: {epochs: 2}\n", r"line 3, column 1: duplicate key `opt` \(first at line 1\)"),
    ("model: {tasks: [NLQ], tasks: [NLQ, VTM]}\n", r"line 1, column 23: duplicate key `tasks`"),
    ("init_rand_seed: " + "1" * 5000 + "\n", r"line 1, column 17: an integer of 5000 characters is too long"),
    ("opt: " + "[" * 3000 + "]" * 3000 + "\n", r"nested too deeply"),
])
def test_yaml_errors_name_the_line(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=f"^{path}: .*{message}"):
        load_run_config(path)


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    """A key written next to a ``<<:`` merge overrides the merged one, as YAML intends."""
    path = tmp_path / "merge.yaml"
    text = yaml.safe_dump(_document(), sort_keys=False)
    assert "loader:\n  batch_size: 2\n" in text
    path.write_text(text.replace("loader:\n  batch_size: 2\n",
                                 "loader:\n  <<: {batch_size: 3, num_workers: 1}\n  batch_size: 2\n"))
    config = load_run_config(path)
    assert (config.loader.batch_size, config.loader.num_workers) == (2, 1)


def test_huge_integers_in_unused_keys_are_refused_too(tmp_path):
    path = tmp_path / "big.yaml"
    document = _document()
    document["model"]["generator"] = {"generator_type": "point", "levels": [1, 2**80]}
    _write(path, document)
    with pytest.raises(UserError, match=r"big.yaml: model.generator.levels\[1\]: must be a 64-bit integer"):
        load_run_config(path)


def test_set_values_go_through_the_same_yaml_rules():
    with pytest.raises(UserError, match=r"--set 'opt=\{a: 1, a: 2\}': the value is not valid YAML \(duplicate key `a`"):
        parse_run_config(_document(), "doc.yaml", ["opt={a: 1, a: 2}"])
    with pytest.raises(UserError, match=r"is not valid YAML \(an integer of 5000 characters is too long\)"):
        parse_run_config(_document(), "doc.yaml", ["init_rand_seed=" + "9" * 5000])
    with pytest.raises(UserError, match=r"doc.yaml: opt.learning_rate: must be a finite number, got inf"):
        parse_run_config(_document(), "doc.yaml", ["opt.learning_rate=1e999"])


# ------------------------------------------------------------------------------------------------
# value checks, through the CLI: exit 1, the key and the valid range named, nothing written
# ------------------------------------------------------------------------------------------------

VALUE_CHECKS = [
    ("opt.learning_rate", 0, r"opt.learning_rate: must be > 0, got 0"),
    ("opt.learning_rate", -1e-3, r"opt.learning_rate: must be > 0"),
    ("opt.learning_rate", math.nan, r"opt.learning_rate: must be a finite number, got nan"),
    ("opt.learning_rate", math.inf, r"opt.learning_rate: must be a finite number, got inf"),
    ("opt.weight_decay", -0.05, r"opt.weight_decay: must be >= 0"),
    ("opt.weight_decay", math.nan, r"opt.weight_decay: must be a finite number"),
    ("opt.epochs", -1, r"opt.epochs: must be >= 0, got -1"),
    ("opt.epochs", 2.5, r"opt.epochs: must be an integer, got 2.5"),
    ("opt.epochs", 2**70, r"opt.epochs: must be a 64-bit integer"),
    ("opt.warmup_epochs", -1, r"opt.warmup_epochs: must be >= 0"),
    ("opt.eta_min", -1e-8, r"opt.eta_min: must be >= 0"),
    ("opt", {"epochs": 0, "warmup_epochs": 0}, r"opt: trains for 0 epochs"),
    ("opt.type", "SGD", r"opt.type: must be AdamW; got 'SGD'. Only AdamW"),
    ("trainer.ema_decay", 1.0, r"trainer.ema_decay: must be in \[0, 1\), got 1"),
    ("trainer.ema_decay", -0.5, r"trainer.ema_decay: must be in \[0, 1\)"),
    ("trainer.log_every", 0, r"trainer.log_every: must be >= 1, got 0"),
    ("trainer.cpu_threads", -1, r"trainer.cpu_threads: must be >= 0, got -1. 0 keeps torch's default"),
    ("trainer.eval_batch_size", -1, r"trainer.eval_batch_size: must be >= 0, got -1. 0 uses loader.batch_size"),
    ("trainer.save_every", -5, r"trainer.save_every: must be >= 0"),
    ("trainer.init_timeout_s", 0, r"trainer.init_timeout_s: must be > 0"),
    ("trainer.device", "tpu", r"trainer.device: must be one of: auto, cpu, cuda; got 'tpu'"),
    ("trainer.deterministic", 1, r"trainer.deterministic: must be true or false, got 1"),
    ("loader.num_workers", -1, r"loader.num_workers: must be >= 0, got -1"),
    ("loader.batch_size", 0, r"loader.batch_size: must be >= 1, got 0"),
    ("loader.batch_size", True, r"loader.batch_size: must be an integer, got true"),
    ("init_rand_seed", -1, r"init_rand_seed: must be in \[0, 9223372036854775807\], got -1"),
    ("init_rand_seed", 2**63, r"init_rand_seed: must be a 64-bit integer"),
    ("init_rand_seed", 2**64, r"init_rand_seed: must be a 64-bit integer"),
    ("train_cfg.clip_grad_l2norm", math.inf, r"train_cfg.clip_grad_l2norm: must be a finite number"),
    ("test_cfg.test_start_epoch", -1, r"test_cfg.test_start_epoch: must be >= 0"),
    ("dataset.default_fps", 0, r"dataset.default_fps: must be > 0"),
    ("dataset.feat_stride", -16, r"dataset.feat_stride: must be > 0"),
    ("dataset.num_frames", 0, r"dataset.num_frames: must be > 0"),
    ("dataset.max_seq_len", 0, r"dataset.max_seq_len: must be >= 1"),
    ("dataset.max_seq_len", "1024", r"dataset.max_seq_len: must be an integer, got '1024'"),
    ("dataset.input_vid_dim", 0, r"dataset.input_vid_dim: must be >= 1"),
    ("model.text_encoder_cfg.1.layer_num", 0, r"model.text_encoder_cfg\[1\].layer_num: must be >= 1, got 0"),
    ("model.video_encoder_cfg.0.layer_cfg.n_in", 0, r"model.video_encoder_cfg\[0\].layer_cfg.n_in: must be >= 1"),
    ("model.video_encoder_cfg.1.layer_cfg.n_head", 0, r"video_encoder_cfg\[1\].layer_cfg.n_head: must be >= 1"),
    ("model.video_encoder_cfg.1.layer_cfg.path_pdrop", 1.0, r"layer_cfg.path_pdrop: must be in \[0, 1\), got 1"),
    ("model.nlq_heads_cfg.max_seg_num", 0, r"model.nlq_heads_cfg.max_seg_num: must be >= 1"),
    ("model.nlq_heads_cfg.loss_normalizer", 0, r"model.nlq_heads_cfg.loss_normalizer: must be > 0"),
    ("model.vtm_heads_cfg.shot_aggregator_cfg.layer_cfg.query_num", 0, r"layer_cfg.query_num: must be >= 1"),
    ("model.regression_range", [[0, 4], [8, 2], [4, 16], [8, 32], [16, 64], [32, 128], [64, 10000]],
     r"model.regression_range\[1\]: must be a \[low, high\] pair with 0 <= low < high"),
]


def _set(document: dict, dotted: str, value: object) -> None:
    parts = [int(p) if p.isdigit() else p for p in dotted.split(".")]
    node = document
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


def _write(path: Path, document: dict) -> None:
    """YAML text of ``document`` (``.nan``/``.inf`` as YAML writes them; huge integers as digits)."""
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.mark.parametrize(("key", "value", "message"), VALUE_CHECKS, ids=_ids(VALUE_CHECKS))
def test_bad_values_stop_train_before_any_work(tmp_path, capsys, key, value, message):
    document = _document()
    _set(document, key, value)
    config = tmp_path / "bad.yaml"
    _write(config, document)
    before = config.read_bytes()
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--config", str(config), "--out", str(out)])
    stderr = capsys.readouterr().err
    assert exit_info.value.code == 1, stderr
    assert stderr.startswith(f"error: {config}: ") and re.search(message, stderr), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert config.read_bytes() == before and not out.exists()


def test_a_bad_value_leaves_an_existing_run_directory_untouched(tmp_path, capsys):
    document = _document()
    document["opt"]["learning_rate"] = -1
    config = tmp_path / "bad.yaml"
    _write(config, document)
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "log.jsonl").write_text('{"epoch": 0}\n')
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--config", str(config), "--out", str(out), "--set", "loader.batch_size=2"])
    assert exit_info.value.code == 1
    assert "opt.learning_rate: must be > 0" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*")) == ["checkpoints", "log.jsonl"]
    assert (out / "log.jsonl").read_text() == '{"epoch": 0}\n'


def test_a_bad_set_value_stops_train_with_the_key(tmp_path, capsys):
    config = tmp_path / "good.yaml"
    _write(config, _document())
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--config", str(config), "--out", str(tmp_path / "run"),
              "--set", "model.text_encoder_cfg.1.layer_cfg.foo=1"])
    stderr = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert "model.text_encoder_cfg[1].layer_cfg.foo: unknown key; valid keys" in stderr
    assert "Traceback" not in stderr and not (tmp_path / "run").exists()


def test_the_limits_of_good_values_are_accepted():
    document = _document()
    for key, value in [("init_rand_seed", 2**63 - 1), ("trainer.ema_decay", 0.0), ("trainer.cpu_threads", 0),
                       ("trainer.eval_batch_size", 0), ("opt.weight_decay", 0.0), ("opt.epochs", 0),
                       ("opt.warmup_epochs", 1), ("loader.num_workers", 0), ("train_cfg.clip_grad_l2norm", -1.0)]:
        _set(document, key, value)
    config = parse_run_config(copy.deepcopy(document), "doc.yaml")
    assert config.seed == 2**63 - 1 and config.optim.total_epochs == 1 and config.trainer.cpu_threads == 0


# ------------------------------------------------------------------------------------------------
# every official and project config still loads
# ------------------------------------------------------------------------------------------------

def _names(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.glob("**/*.yaml")) if root.is_dir() else []


@pytest.mark.parametrize("name", _names(REFERENCE_CONFIGS) or ["(reference configs absent)"])
def test_every_official_config_loads(shared_reference, name):
    path = shared_reference / "configs" / name
    if name == DEAD_REFERENCE_CONFIG:
        with pytest.raises(UserError, match=r"model_name: must be MultiTaskArch; got 'ObjectLocPointTransformer'"):
            load_run_config(path)
        return
    config = load_run_config(path)
    assert config.model.max_seq_len == config.dataset.max_seq_len
    assert config.dataset.num_frames == 16.0 and config.optim.total_epochs == 10


@pytest.mark.parametrize("name", _names(REPO_CONFIGS))
def test_every_project_config_loads(name):
    config = load_run_config(REPO_CONFIGS / name)
    assert config.model.max_seq_len == config.dataset.max_seq_len and config.dataset.default_fps > 0


def test_the_small_parity_config_loads(reference_fixtures):
    import torch

    fixture = torch.load(reference_fixtures / "osgnet_small_nlq.pt", weights_only=True)
    config = parse_run_config(yaml.safe_load(fixture["config_yaml"]), "osgnet_small_nlq.pt")
    assert (config.model.embed_dim, config.model.max_seq_len) == (64, 1024)
