"""Finding BraTS cases under a dataset root, for every release layout and file extension.

`find_cases(root)` walks `root`, recognises case folders by name (`layouts.LAYOUTS`), and
returns the cases it found plus the problems that stop a case before any file is read
(missing modality, missing segmentation while other cases have one, unknown layout, the same
case id in two folders). Reading and checking the volumes themselves is
`brats_rev.data.case_reader`.
"""

import collections
import dataclasses
import os

from brats_rev.data import layouts
from brats_rev.data.problems import Problem


@dataclasses.dataclass(frozen=True)
class Case:
    """One case folder.

    Attributes:
      case_id: folder name, e.g. "BraTS2021_00000".
      release: "2020", "2021" or "2023".
      convention: label convention of its segmentation (brats_rev.labels key).
      directory: path of the case folder.
      images: tuple of file paths in canonical modality order (flair, t1, t1ce, t2).
      seg: path of the segmentation, or None for an unlabelled (validation / test) case.
    """

    case_id: str
    release: str
    convention: str
    directory: str
    images: tuple
    seg: str | None


def _find_file(directory, names, case_id, role):
    """Path of the first `names` entry present in `directory` (+ aliases of role), or None."""
    candidates = list(names) + list(layouts.FILE_ALIASES.get((case_id, role), ()))
    for name in candidates:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def _has_nifti(file_names):
    return any(name.endswith(layouts.EXTENSIONS) for name in file_names)


def _inspect_case(directory, case_id, layout):
    """(image paths or None per modality, seg path or None, problems) for one case folder."""
    images, problems = [], []
    for modality in layouts.MODALITIES:
        names = [layout.file_name(case_id, modality, ext) for ext in layouts.EXTENSIONS]
        path = _find_file(directory, names, case_id, modality)
        images.append(path)
        if path is None:
            problems.append(Problem(
                case_id, os.path.join(directory, names[0]),
                f"missing modality {modality}: neither {' nor '.join(names)} exists",
            ))
    seg_names = [layout.file_name(case_id, layouts.SEGMENTATION, ext)
                 for ext in layouts.EXTENSIONS]
    seg = _find_file(directory, seg_names, case_id, layouts.SEGMENTATION)
    return images, seg, problems


def find_cases(root, require_seg=True):
    """Finds every case folder under `root` (searched recursively, in sorted order).

    A dataset is labelled if any case has a segmentation; then, with `require_seg`, a case
    without one is a problem (prediction passes False: it reads only the images). Folders
    holding NIfTI files whose names match no layout are "unknown layout" problems. A case id
    found in several folders is a problem for each copy, naming the others: none is used.

    Returns:
      (cases, problems): cases sorted by case id, each valid as far as file names go; problems
      a list of Problem (errors) for cases that cannot be used and unrecognised folders.
    Raises:
      FileNotFoundError: `root` is not a directory.
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f"Dataset root {root!r} is not a directory.")
    found, problems = [], []
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        case_id = os.path.basename(directory)
        layout = layouts.layout_for_case(case_id)
        if layout is None:
            if _has_nifti(files):
                problems.append(Problem(
                    case_id, directory,
                    "unknown layout: folder name matches no BraTS release "
                    f"({layouts.case_patterns()})",
                ))
            continue
        subdirs.clear()
        images, seg, case_problems = _inspect_case(directory, case_id, layout)
        found.append((Case(case_id, layout.release, layout.convention, directory,
                           tuple(images), seg), case_problems))

    labelled = require_seg and any(case.seg is not None for case, _ in found)
    copies = collections.defaultdict(list)
    for case, _ in found:
        copies[case.case_id].append(case.directory)
    cases = []
    for case, case_problems in sorted(found, key=lambda item: item[0].case_id):
        others = [directory for directory in copies[case.case_id] if directory != case.directory]
        if others:
            case_problems = case_problems + [Problem(
                case.case_id, case.directory,
                f"duplicate case id: also in {', '.join(others)}; neither copy is used",
            )]
        if labelled and case.seg is None:
            layout = layouts.LAYOUTS[case.release]
            name = layout.file_name(case.case_id, layouts.SEGMENTATION)
            case_problems = case_problems + [Problem(
                case.case_id, os.path.join(case.directory, name),
                "missing segmentation (other cases of this dataset have one)",
            )]
        if case_problems:
            problems.extend(case_problems)
        else:
            cases.append(case)
    return cases, problems
