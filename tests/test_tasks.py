"""The task table: conventions, regions and decoding of every task, against the sources."""

import itertools

import numpy as np
import pytest

from brats_rev import labels, tasks


@pytest.mark.parametrize("name", sorted(tasks.TASKS))
def test_decoding_the_regions_of_any_label_map_gives_it_back(name):
    """Every canonical value, and every pair of neighbours, survives regions -> decoding."""
    task = tasks.TASKS[name]
    values = np.arange(task.num_classes, dtype=np.uint8)
    pairs = np.array(list(itertools.product(values, repeat=2)), np.uint8)  # (n, 2)
    regions = labels.regions_from_canonical(pairs, task)
    assert regions.shape == pairs.shape + (len(task.regions),)
    np.testing.assert_array_equal(labels.canonical_from_regions(regions, task), pairs)


@pytest.mark.parametrize("name", sorted(tasks.TASKS))
def test_every_convention_of_a_task_round_trips_exactly(name):
    task = tasks.TASKS[name]
    canonical = np.arange(task.num_classes, dtype=np.uint8)
    for convention in task.conventions:
        assert sorted(tasks.CONVENTIONS[convention].values()) == canonical.tolist()
        stored = labels.from_canonical(canonical, convention)
        np.testing.assert_array_equal(labels.to_canonical(stored, convention), canonical)


def _regions_of_file_values(task):
    """{region: sorted file values of the task's own convention} (what the sources list)."""
    to_file = {v: k for k, v in tasks.CONVENTIONS[task.conventions[0]].items()}
    return {region: [to_file[v] for v in task.region_values(region)] for region in task.regions}


def test_gli2024_labels_and_regions_are_those_of_metrics_gli():
    """metrics_GLI.py get_TissueWiseSeg: WT 1..3, TC 1 | 3, NETC 1, SNFH 2, ET 3, RC 4."""
    task = tasks.TASKS["gli2024"]
    assert _regions_of_file_values(task) == {"WT": [1, 2, 3], "TC": [1, 3], "ET": [3],
                                             "NETC": [1], "SNFH": [2], "RC": [4]}
    assert labels.to_canonical(np.array([4]), "brats2024-gli").tolist() == [task.value("RC")]


def test_ped2024_labels_and_regions_are_those_of_metrics_ped():
    """metrics_PED.py get_TissueWiseSeg: WT 1..4, TC 1..3, ET 1, NETC 2, CC 3, ED 4."""
    task = tasks.TASKS["ped2024"]
    assert _regions_of_file_values(task) == {"WT": [1, 2, 3, 4], "TC": [1, 2, 3], "ET": [1],
                                             "NETC": [2], "CC": [3], "ED": [4]}


def test_the_gli_regions_and_decoding_are_the_ones_of_before():
    task = tasks.TASKS["gli2023"]
    assert task.region_names == ("WT", "TC", "ET")
    #                                           WT TC ET
    assert labels.regions_from_canonical([0, 1, 2, 3], task).tolist() == [[0, 0, 0],
                                                                          [1, 1, 0],
                                                                          [1, 0, 0],
                                                                          [1, 1, 1]]
    assert set(task.conventions) == {"brats2020", "brats2021", "brats2023"}


def test_every_task_predicts_wt_first_and_names_a_fallback_inside_tc():
    """Region 0 is WT (the validation overlay draws it); a too small ET becomes a class that
    stays in TC, so TC is unchanged by the relabelling."""
    for task in tasks.TASKS.values():
        assert task.region_names[:3] == ("WT", "TC", "ET")
        assert task.et_fallback in task.regions["TC"] and task.et_fallback != "ET"
        assert set(task.lesion) == set(task.regions)


def test_output_convention_keeps_a_case_numbering_the_task_has():
    gli, gli2024 = tasks.TASKS["gli2023"], tasks.TASKS["gli2024"]
    assert gli.output_convention("brats2021") == "brats2021"
    assert gli2024.output_convention("brats2023") == "brats2024-gli"
    with pytest.raises(ValueError, match="'brats2023' is not one of task ped2024's: "
                                         "brats2024-ped"):
        tasks.TASKS["ped2024"].check_convention("brats2023")
