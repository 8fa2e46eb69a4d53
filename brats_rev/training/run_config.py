"""The configuration of a training run resolved from a preset, a JSON file and
`section.field=value` overrides, and checked against the run folder it resumes.

Pure Python (no TensorFlow): entry points validate a run's configuration before anything heavy
starts. The RunConfig and its `config.json` belong to `brats_rev.run_folder`.
"""

import dataclasses
import json

from brats_rev import tasks
from brats_rev.config import TrainConfig, experiment
from brats_rev.run_folder import SECTIONS, RunConfig, read_config, write_config

# Fields a restarted run may change (raising `epochs` extends a finished run).
RESUMABLE_CHANGES = {("train", "epochs")}


def _field_types(cls):
    return {field.name: field for field in dataclasses.fields(cls)}


def _check_type(section, name, value):
    """Rejects a value whose JSON type cannot be the field's (e.g. a string for a number)."""
    annotation = str(_field_types(SECTIONS[section])[name].type)
    if value is None and "None" in annotation:
        return
    expected = (
        (bool,) if "bool" in annotation
        else (list, tuple, int) if "tuple" in annotation
        else (int, float) if "int" in annotation or "float" in annotation
        else (str,) if "str" in annotation
        else None
    )
    if expected and (not isinstance(value, expected) or
                     (isinstance(value, bool) and bool not in expected)):
        raise ValueError(f"`{section}.{name}` expects {' or '.join(t.__name__ for t in expected)}."
                         f" Received: {section}.{name}={value!r}")


def _apply(sections, section, name, value):
    if section not in SECTIONS:
        raise ValueError(f"Unknown configuration section. Received: {section!r}; known: "
                         f"{list(SECTIONS)}")
    if name not in _field_types(SECTIONS[section]):
        raise ValueError(f"Unknown key. Received: {section}.{name}; known {section} keys: "
                         f"{sorted(_field_types(SECTIONS[section]))}")
    _check_type(section, name, value)
    sections[section][name] = value


def parse_override(text):
    """"section.field=value" -> (section, field, value); value parsed as JSON, else a string.

    Examples: "model.filters=[8,16,32]", "train.learning_rate=1e-3", "train.optimizer=adamw".
    """
    key, separator, raw = text.partition("=")
    section, dot, name = key.strip().partition(".")
    if not separator or not dot or not name:
        raise ValueError(f"An override must look like section.field=value. Received: {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return section, name, value


def resolve(preset="tiny", config=None, overrides=()):
    """Builds and validates a RunConfig.

    Order, later wins: defaults; the experiment `preset` (brats_rev.config.EXPERIMENTS): its
    model and its data and train settings; `config` ({"model": {...}, "data": {...},
    "train": {...}}, any subset); each "section.field=value" of `overrides`. The model's dtype
    policy is the training precision.

    Raises:
        ValueError: unknown preset, section or key; a value of the wrong type or out of range
            (the message names the key and the received value).
    """
    # Uniform per-level block counts as one int, so that overriding `model.filters` with
    # another number of levels keeps them valid.
    named = experiment(preset)
    model = {name: value[0] if name.endswith("_blocks") and len(set(value)) == 1 else value
             for name, value in named.model.to_dict().items()}
    sections = {"model": model, "data": dict(named.data), "train": dict(named.train)}
    for section, values in (config or {}).items():
        if not isinstance(values, dict) or section not in SECTIONS:
            raise ValueError(f"A config file holds sections {list(SECTIONS)}, each a JSON "
                             f"object. Received: {section!r}")
        for name, value in values.items():
            _apply(sections, section, name, value)
    for text in overrides:
        _apply(sections, *parse_override(text))
    precision = sections["train"].get("precision", TrainConfig.precision)
    policy = sections["model"]["dtype_policy"]
    if policy not in (named.model.dtype_policy, precision):
        raise ValueError("Set the precision with train.precision; the model's dtype_policy "
                         f"follows it. Received: model.dtype_policy={policy!r}, "
                         f"train.precision={precision!r}")
    sections["model"]["dtype_policy"] = precision
    built = {}
    for section, cls in SECTIONS.items():
        try:
            built[section] = cls(**sections[section])
        except (TypeError, ValueError) as error:
            raise ValueError(f"Invalid {section} configuration: {error}") from error
    run = RunConfig(**built)
    if run.data.task is not None:
        run = with_task(run, run.data.task)
    check_consistency(run)
    return run


def with_task(run, task_name):
    """`run` for a dataset of task `task_name`: data.task set to it and the model's heads
    (model.num_outputs) one per region of the task.

    Raises:
        ValueError: data.task names another task.
    """
    if run.data.task not in (None, task_name):
        raise ValueError(f"data.task={run.data.task!r}, but the dataset {run.data.data_dir} is "
                         f"of task {task_name!r}")
    task = tasks.task_named(task_name)
    return dataclasses.replace(run, model=run.model.replace(num_outputs=len(task.regions)),
                               data=run.data.replace(task=task_name))


def check_consistency(run):
    """Cross-section checks: the model's heads vs the task's regions, patch size vs the
    model's size multiple, deep-supervision weights vs the model's outputs, warm-up vs run
    length."""
    if run.data.task is not None:
        regions = tasks.task_named(run.data.task).region_names
        if run.model.num_outputs != len(regions):
            raise ValueError(f"model.num_outputs must be {len(regions)}, one per region of task "
                             f"{run.data.task} ({', '.join(regions)}). Received: "
                             f"model.num_outputs={run.model.num_outputs}")
    multiple = run.model.size_multiple
    if any(size % multiple for size in run.data.patch_size):
        raise ValueError(f"data.patch_size must be a multiple of {multiple} (2 ** (levels - 1) "
                         f"of the model). Received: data.patch_size={list(run.data.patch_size)}")
    weights = run.train.deep_supervision_weights
    outputs = run.model.levels - 1
    if run.model.deep_supervision and weights is not None and len(weights) != outputs:
        raise ValueError(f"train.deep_supervision_weights needs {outputs} weights (one per "
                         f"output of a {run.model.levels}-level model). Received: {list(weights)}")
    if run.train.warmup_steps >= run.train.total_steps:
        raise ValueError("train.warmup_steps must be below epochs * steps_per_epoch "
                         f"({run.train.total_steps}). Received: {run.train.warmup_steps}")


def resumable_differences(saved, run):
    """["section.field: saved -> new"] of fields that differ and may not change on resume."""
    old, new = saved.to_dict(), run.to_dict()
    return [f"{section}.{name}: {old[section][name]!r} -> {new[section][name]!r}"
            for section in SECTIONS for name in old[section]
            if old[section][name] != new[section][name]
            and (section, name) not in RESUMABLE_CHANGES]


def prepare_model_dir(run, model_dir, write_files):
    """Checks `run` against an existing `model_dir/config.json` and (re)writes it.

    A restarted run must have the same configuration except `train.epochs`.

    Raises:
        ValueError: the existing configuration differs elsewhere (lists the differences).
    """
    saved = read_config(model_dir)
    if saved is not None:
        differences = resumable_differences(saved, run)
        if differences:
            raise ValueError(f"{model_dir} holds a run with another configuration; use a new "
                             "--model_dir or the same settings. Differences: "
                             + "; ".join(differences))
    if write_files:
        write_config(run, model_dir)
