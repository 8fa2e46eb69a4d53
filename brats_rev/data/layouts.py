"""How each BraTS release names its case folders and files (the one table of file layouts).

A case folder `<case_id>/` holds `<case_id><sep><suffix><ext>` for each modality and for the
segmentation, with `<ext>` one of EXTENSIONS. Modalities are always listed in the canonical
channel order MODALITIES = (flair, t1, t1ce, t2); each layout maps them to its file suffixes
(2023: t2f, t1n, t1c, t2w). Known misnamed files of real releases are in FILE_ALIASES.
`task_choices` says which BraTS tasks (brats_rev.tasks) a case id may belong to. Pure Python;
no I/O here.
"""

import dataclasses
import re
import types

from brats_rev import tasks

MODALITIES = ("flair", "t1", "t1ce", "t2")
SEGMENTATION = "seg"
EXTENSIONS = (".nii.gz", ".nii")


@dataclasses.dataclass(frozen=True)
class Layout:
    """One release's naming scheme.

    Attributes:
      release: "2020", "2021" or "2023" (the 2023 layout is also that of the 2024 releases).
      convention: the key of `brats_rev.tasks.CONVENTIONS` its segmentations use (for the
        2023 layout, the 2023 numbering; a case's task may choose another, `task_choices`).
      case_pattern: regular expression a case folder name (= case id) fully matches, with
        ASCII digits `[0-9]` only: a Unicode digit class also matches e.g. Arabic-Indic digits,
        and ids that differ only in those map to one sanitised output file name.
      separator: between case id and suffix in file names.
      suffixes: canonical modality name (or "seg") -> file suffix.
    """

    release: str
    convention: str
    case_pattern: str
    separator: str
    suffixes: types.MappingProxyType

    def matches(self, case_id):
        """True if `case_id` is a case folder name of this release."""
        return re.fullmatch(self.case_pattern, case_id) is not None

    def file_name(self, case_id, role, extension=".nii.gz"):
        """File name of `role` (a modality or "seg") for `case_id`, e.g. 'X_t1ce.nii.gz'."""
        return f"{case_id}{self.separator}{self.suffixes[role]}{extension}"


_CLASSIC = types.MappingProxyType(
    {"flair": "flair", "t1": "t1", "t1ce": "t1ce", "t2": "t2", SEGMENTATION: "seg"}
)

LAYOUTS = types.MappingProxyType(
    {
        "2020": Layout(
            "2020", "brats2020", r"BraTS20_(Training|Validation|Testing)_[0-9]{3}", "_", _CLASSIC
        ),
        "2021": Layout("2021", "brats2021", r"BraTS2021_[0-9]{5}", "_", _CLASSIC),
        # The 2023 GLI layout; the other challenges (MEN, MET, PED, SSA) and the 2024 releases
        # name files alike. The challenge is the pattern's first group.
        "2023": Layout(
            "2023",
            "brats2023",
            r"BraTS-(GLI|MEN|MET|PED|SSA)-[0-9]{5}-[0-9]{3}",
            "-",
            types.MappingProxyType(
                {"flair": "t2f", "t1": "t1n", "t1ce": "t1c", "t2": "t2w", SEGMENTATION: "seg"}
            ),
        ),
    }
)

# (case id, role) -> other file names that role has in a real release. Add rows as found.
FILE_ALIASES = types.MappingProxyType(
    {("BraTS20_Training_355", SEGMENTATION): ("W39_1998.09.19_Segm.nii",)}
)


def case_patterns():
    """The case folder name patterns of every release, comma-separated, for messages."""
    return ", ".join(layout.case_pattern for layout in LAYOUTS.values())


def layout_for_case(case_id):
    """The Layout whose case pattern `case_id` matches, or None."""
    for layout in LAYOUTS.values():
        if layout.matches(case_id):
            return layout
    return None


def task_choices(case_id):
    """(names of the tasks a case of `case_id` may belong to, the one its name means or None).

    A 2020 / 2021 case id is GLI with the 2020 / 2021 numbering: gli2023 only. A 2023-layout id
    names its challenge (BraTS-PED-...): any task of that challenge, the default being
    tasks.CHALLENGE_DEFAULTS (none for PED, whose 2023 and 2024 numberings differ). An id of no
    layout: ((), None).
    """
    layout = layout_for_case(case_id)
    if layout is None:
        return (), None
    if layout.release != "2023":
        names = tuple(name for name, task in tasks.TASKS.items()
                      if layout.convention in task.conventions)
        return names, names[0]
    challenge = re.fullmatch(layout.case_pattern, case_id).group(1)
    names = tuple(name for name, task in tasks.TASKS.items() if task.challenge == challenge)
    return names, tasks.CHALLENGE_DEFAULTS.get(challenge)


def case_id_for(release, index, labelled=True, challenge="GLI"):
    """The case id a release gives case number `index` (2020 validation cases differ; the 2023
    layout names the `challenge`)."""
    if release == "2020":
        return f"BraTS20_{'Training' if labelled else 'Validation'}_{index:03d}"
    if release == "2021":
        return f"BraTS2021_{index:05d}"
    if release == "2023":
        return f"BraTS-{challenge}-{index:05d}-000"
    raise ValueError(f"Unknown release {release!r}; known: {sorted(LAYOUTS)}.")
