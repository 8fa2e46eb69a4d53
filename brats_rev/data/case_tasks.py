"""Which BraTS task (brats_rev.tasks) the cases of one dataset belong to: one task per dataset.

The case ids decide it (`layouts.task_choices`: a 2021 or BraTS-GLI case is gli2023, a
BraTS-MEN case men2023, ...) unless a task is chosen for the dataset (`convert --task`), which
every case id must allow (gli2024 for BraTS-GLI cases, ped2024 for BraTS-PED ones). Cases of
several tasks, a case id whose name does not decide (BraTS-PED: 2023 or 2024 numbering?) or
that the chosen task does not allow are a TaskError naming the cases, before anything is read.
Pure Python.
"""

import collections
import dataclasses

from brats_rev import tasks
from brats_rev.data import layouts

# Case ids named in a message, at most.
_NAMED = 5


class TaskError(ValueError):
    """The cases of a dataset are of no single task (one line naming the cases)."""


def _named(case_ids):
    """'A, B, C' or 'A, B, ... and 7 more' of sorted `case_ids`."""
    case_ids = sorted(case_ids)
    shown = ", ".join(case_ids[:_NAMED])
    return shown if len(case_ids) <= _NAMED else f"{shown} and {len(case_ids) - _NAMED} more"


def dataset_task(cases, task_name=None):
    """(Task, cases) of a dataset's cases (brats_rev.data.cases.Case), each case given the label
    convention it holds in that task (`Task.output_convention` of its layout's).

    Args:
      cases: the cases found.
      task_name: the task chosen for the dataset (a tasks.TASKS key), or None to let the case
        ids decide.
    Raises:
      ValueError: `task_name` is no task name.
      TaskError: naming the cases: a case id the chosen task does not apply to, a case id that
        does not decide its task, or cases of several tasks.
    """
    if task_name is not None:
        tasks.task_named(task_name)
        refused = [case.case_id for case in cases
                   if task_name not in layouts.task_choices(case.case_id)[0]]
        if refused:
            raise TaskError(f"task {task_name} does not apply to case {_named(refused)} (their "
                            "names are of another challenge or release)")
    else:
        by_task = collections.defaultdict(list)
        for case in cases:
            by_task[layouts.task_choices(case.case_id)[1]].append(case.case_id)
        if None in by_task:
            choices = sorted({name for case_id in by_task[None]
                              for name in layouts.task_choices(case_id)[0]})
            raise TaskError(f"the names of case {_named(by_task[None])} do not tell their task "
                            f"({' or '.join(choices)}: the label numbers differ); choose one "
                            "with --task")
        if len(by_task) > 1:
            groups = "; ".join(f"{name}: {_named(ids)}" for name, ids in sorted(by_task.items()))
            raise TaskError(f"the cases are of several tasks ({groups}); convert each task "
                            "into a dataset of its own")
        task_name = next(iter(by_task), tasks.DEFAULT_TASK)
    task = tasks.TASKS[task_name]
    return task, [dataclasses.replace(case, convention=task.output_convention(case.convention))
                  for case in cases]
