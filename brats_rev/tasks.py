"""The BraTS tasks: each one's label numbering, classes, regions and lesion-wise parameters.

One table (`TASKS`) says, per task, which tumour classes its segmentations hold, how its
segmentation files number them (`conventions`), which regions the network predicts (one
sigmoid head per region, in `regions` order), how region masks decode back into classes, and
how BraTS scores it lesion-wise. Everything that converts, trains, predicts, exports, serves or
evaluates reads the task from here.

Canonical labels: 0 is background, class k of a task's `classes` is canonical value k + 1. A
convention maps every value its files may hold to a canonical value; values outside it are
errors. Conventions of the tasks that share classes are shared (the 2023 numbering is that of
GLI, SSA, MEN, MET and PED 2023, and MET and SSA 2024).

Decoding (`decoding`): start from background and, in order, set every voxel inside region r
to class c for each (r, c); later wins. For region masks made from labels, decoding gives the
labels back exactly (tests check it for every task).

Pure Python; imports nothing.
"""

import dataclasses
import types

BACKGROUND = 0


@dataclasses.dataclass(frozen=True)
class Lesion:
    """Lesion-wise parameters of one region (brats_rev.lesion_metrics).

    Attributes:
      dilation: iterations (at least 1) of the 18-connected dilation that groups reference
        lesions and matches predictions to them, in voxels.
      threshold_mm3: lesions of at most this volume are ignored.
    """

    dilation: int
    threshold_mm3: float


@dataclasses.dataclass(frozen=True)
class Task:
    """One BraTS task.

    Attributes:
      name: e.g. "gli2023".
      challenge: the BraTS challenge ("GLI", "MEN", "MET", "PED", "SSA"), as in case ids.
      classes: tumour class names; class k is canonical value k + 1.
      conventions: names of the file label conventions (keys of CONVENTIONS) this task's files
        may use; the first is the task's own (the one its release writes).
      regions: region name -> tuple of the class names it unites, in network head order.
      decoding: ((region, class name), ...) applied in order, later wins (module docstring).
      et_fallback: the class a too small ET is relabelled to (`--et_min_voxels`), or None if
        the task has no ET region.
      lesion: region name -> Lesion, for every region.
      group_predictions: prediction components are grouped by dilation and groups of at most
        the threshold dropped, as the reference's lesions (the 2024 code).
      missed_hd95: HD95 (mm) of a missed lesion and of each false positive.
      labels_source: where the label numbering and regions are defined.
      lesion_source: where the lesion-wise parameters come from.
    """

    name: str
    challenge: str
    classes: tuple
    conventions: tuple
    regions: types.MappingProxyType
    decoding: tuple
    et_fallback: str | None
    lesion: types.MappingProxyType
    group_predictions: bool
    missed_hd95: float
    labels_source: str
    lesion_source: str

    @property
    def region_names(self):
        """The region names in head order."""
        return tuple(self.regions)

    @property
    def num_classes(self):
        """Canonical values 0 .. num_classes - 1 (background included)."""
        return len(self.classes) + 1

    def value(self, class_name):
        """The canonical value of `class_name`."""
        return self.classes.index(class_name) + 1

    def region_values(self, region):
        """The canonical values inside `region`, sorted."""
        return tuple(sorted(self.value(name) for name in self.regions[region]))

    def class_names(self):
        """{canonical value: name}, background included."""
        return {BACKGROUND: "background",
                **{self.value(name): name for name in self.classes}}

    def output_convention(self, case_convention):
        """The convention a case's labels are written in: the case's own if this task has it
        (a 2021 case stays in the 2021 numbering), else the task's own."""
        return case_convention if case_convention in self.conventions else self.conventions[0]

    def check_convention(self, convention):
        """Raises ValueError unless `convention` is one of this task's, naming them."""
        if convention not in self.conventions:
            raise ValueError(f"label convention {convention!r} is not one of task "
                             f"{self.name}'s: {', '.join(self.conventions)}")


# Convention name -> {file label value: canonical value}.
CONVENTIONS = types.MappingProxyType({
    # BraTS 2020 / 2021: 1 NCR, 2 ED, 4 ET (no 3).
    "brats2020": types.MappingProxyType({0: 0, 1: 1, 2: 2, 4: 3}),
    "brats2021": types.MappingProxyType({0: 0, 1: 1, 2: 2, 4: 3}),
    # BraTS 2023 (every challenge) and MET / SSA 2024: 1 NETC, 2 SNFH, 3 ET.
    "brats2023": types.MappingProxyType({0: 0, 1: 1, 2: 2, 3: 3}),
    # GLI 2024 post-treatment: 1 NETC, 2 SNFH, 3 ET, 4 RC.
    "brats2024-gli": types.MappingProxyType({0: 0, 1: 1, 2: 2, 3: 3, 4: 4}),
    # PED 2024: 1 ET, 2 NETC, 3 CC, 4 ED.
    "brats2024-ped": types.MappingProxyType({0: 0, 1: 1, 2: 2, 3: 3, 4: 4}),
})

_METRICS_2023 = ("rachitsaluja/BraTS-2023-Metrics metrics.py (commit 43c9052): "
                 "get_TissueWiseSeg, get_LesionWiseResults challenge_name")
_METRICS_2024 = "rachitsaluja/BraTS-2024-Metrics (commit 9a0ab9c, July 2024)"

# The 2020 / 2021 / 2023 classes: NCR = NETC (necrotic / non-enhancing core), ED = SNFH
# (oedema / surrounding FLAIR hyperintensity), ET (enhancing tumour).
_GLI_CLASSES = ("NCR", "ED", "ET")
_GLI_REGIONS = types.MappingProxyType({"WT": ("NCR", "ED", "ET"), "TC": ("NCR", "ET"),
                                       "ET": ("ET",)})
_GLI_DECODING = (("WT", "ED"), ("TC", "NCR"), ("ET", "ET"))


def _lesion(regions, dilation, threshold_mm3, **per_region):
    """{region: Lesion(dilation, threshold)} with `per_region` {region: (dilation, threshold)}
    replacing some."""
    return types.MappingProxyType({
        region: Lesion(*per_region.get(region, (dilation, threshold_mm3))) for region in regions})


def _task_2023(name, challenge, dilation, threshold_mm3, conventions=("brats2023",)):
    """A task with the 2023 labels and the 2023 lesion-wise code's parameters."""
    return Task(name, challenge, _GLI_CLASSES, conventions, _GLI_REGIONS, _GLI_DECODING, "NCR",
                _lesion(_GLI_REGIONS, dilation, threshold_mm3), False, 374.0,
                f"{_METRICS_2023} (2020/2021: 4 is ET)",
                f"{_METRICS_2023} 'BraTS-{challenge}'")


def _task_2024_as_2023(name, challenge, dilation, threshold_mm3, metrics_file):
    """A 2024 task with the 2023 labels and its 2024 lesion-wise code's parameters."""
    source = f"{_METRICS_2024} {metrics_file}"
    return Task(name, challenge, _GLI_CLASSES, ("brats2023",), _GLI_REGIONS, _GLI_DECODING,
                "NCR", _lesion(_GLI_REGIONS, dilation, threshold_mm3), True, 374.0,
                f"{source} get_TissueWiseSeg",
                f"{source} get_LesionWiseResults, save_tmp_files")


_GLI2024_REGIONS = types.MappingProxyType({
    "WT": ("NETC", "SNFH", "ET"), "TC": ("NETC", "ET"), "ET": ("ET",), "NETC": ("NETC",),
    "SNFH": ("SNFH",), "RC": ("RC",)})
_PED2024_REGIONS = types.MappingProxyType({
    "WT": ("ET", "NETC", "CC", "ED"), "TC": ("ET", "NETC", "CC"), "ET": ("ET",),
    "NETC": ("NETC",), "CC": ("CC",), "ED": ("ED",)})
_GLI2024_SOURCE = f"{_METRICS_2024} metrics_GLI.py"
_PED2024_SOURCE = f"{_METRICS_2024} metrics_PED.py"

TASKS = types.MappingProxyType({task.name: task for task in (
    _task_2023("gli2023", "GLI", 3, 50, conventions=("brats2023", "brats2021", "brats2020")),
    _task_2023("ssa2023", "SSA", 3, 50),
    _task_2023("men2023", "MEN", 1, 50),
    _task_2023("ped2023", "PED", 3, 50),
    _task_2023("met2023", "MET", 1, 2),
    # GLI 2024 post-treatment. Dilation 5 for NETC and RC, 3 for the others: the reference
    # code also means 5 for SNFH but spells it "SFNH", so SNFH gets 3 there and here.
    Task("gli2024", "GLI", ("NETC", "SNFH", "ET", "RC"), ("brats2024-gli",), _GLI2024_REGIONS,
         (("RC", "RC"), ("WT", "SNFH"), ("TC", "NETC"), ("ET", "ET")), "NETC",
         _lesion(_GLI2024_REGIONS, 3, 20, ET=(3, 10), NETC=(5, 20), RC=(5, 20)), True, 337.0,
         f"{_GLI2024_SOURCE} get_TissueWiseSeg",
         f"{_GLI2024_SOURCE} get_LesionWiseResults, save_tmp_files"),
    Task("ped2024", "PED", ("ET", "NETC", "CC", "ED"), ("brats2024-ped",), _PED2024_REGIONS,
         (("WT", "ED"), ("TC", "NETC"), ("CC", "CC"), ("ET", "ET")), "NETC",
         _lesion(_PED2024_REGIONS, 5, 10), True, 374.0,
         f"{_PED2024_SOURCE} get_TissueWiseSeg",
         f"{_PED2024_SOURCE} get_LesionWiseResults, save_tmp_files"),
    _task_2024_as_2023("met2024", "MET", 1, 2, "metrics_MET.py"),
    _task_2024_as_2023("ssa2024", "SSA", 3, 50, "metrics_SSA.py"),
)})
DEFAULT_TASK = "gli2023"
# The task a case id of each challenge means when none is chosen; a challenge absent here
# (PED: 2023 and 2024 number the labels differently) needs one chosen.
CHALLENGE_DEFAULTS = types.MappingProxyType(
    {"GLI": "gli2023", "MEN": "men2023", "MET": "met2023", "SSA": "ssa2023"})


def task_named(name):
    """The Task of `name` (a key of TASKS); ValueError naming the known ones otherwise."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}")
    return TASKS[name]


def conventions_of(name):
    """{file value: canonical value} of convention `name`; ValueError if it is unknown."""
    if name not in CONVENTIONS:
        raise ValueError(f"Unknown label convention {name!r}; known: {sorted(CONVENTIONS)}.")
    return CONVENTIONS[name]
