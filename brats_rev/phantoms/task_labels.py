"""A phantom's labels in the classes of any BraTS task (brats_rev.tasks).

Phantoms draw GLI tumours: NCR (necrotic core) inside ET (enhancing rim) inside ED (oedema).
`task_labels` renames them into a task's classes and draws the classes GLI lacks as simple
shapes cut from the tumour, so that every class and every region of the task is present when
the three GLI classes are:

    2023 numbering (GLI, SSA, MEN, MET, PED 2023; MET, SSA 2024)  unchanged
    gli2024  NCR -> NETC, ED -> SNFH, ET -> ET; RC (resection cavity): the oedema voxels below
             the oedema's median x (beside the core, outside WT as in post-treatment scans)
    ped2024  NCR -> NETC, ED -> ED, ET -> ET; CC (cystic component): the core voxels at or
             above the core's median x

The images are not changed: these cases test the plumbing of a task, not learning.
"""

import numpy as np

from brats_rev import labels

# Task name -> {GLI class name: the task's class name}; tasks not listed keep the GLI classes.
_RENAMED = {"gli2024": {"NCR": "NETC", "ED": "SNFH", "ET": "ET"},
            "ped2024": {"NCR": "NETC", "ED": "ED", "ET": "ET"}}
# Task name -> (GLI class a shape is cut from, the task's class it becomes, whether the shape
# is that class's voxels below its median x, else at or above it).
_CUT = {"gli2024": ("ED", "RC", True), "ped2024": ("NCR", "CC", False)}


def task_labels(canonical, task):
    """uint8 canonical labels of `task` (same shape) of GLI canonical labels `canonical`."""
    canonical = np.asarray(canonical, np.uint8)
    if task.name not in _RENAMED:
        return canonical.copy()
    gli_names = labels.GLI.class_names()
    renamed = np.zeros(labels.GLI.num_classes, np.uint8)
    for value, name in gli_names.items():
        if value != labels.BACKGROUND:
            renamed[value] = task.value(_RENAMED[task.name][name])
    result = renamed[canonical]
    source, target, below = _CUT[task.name]
    inside = canonical == labels.GLI.value(source)
    if inside.any():
        x = np.nonzero(inside)[0]
        median = np.median(x)
        cut = np.zeros_like(inside)
        cut[tuple(np.nonzero(inside))] = (x < median) if below else (x >= median)
        result[cut] = task.value(target)
    return result
