"""Entry point: `python -m brats_rev.phantoms` writes a phantom dataset (see the package doc)."""

from absl import app, flags

from brats_rev import program, tasks
from brats_rev.data import layouts
from brats_rev.phantoms.case import BRATS_SHAPE
from brats_rev.phantoms.writing import KINDS, write_dataset


def main(argv):
    """Writes the requested phantom dataset and prints where."""
    del argv
    options = flags.FLAGS
    shape = tuple(int(n) for n in options.shape.split(","))
    task = tasks.TASKS[options.task]
    first_id = layouts.case_id_for(options.release, 1, challenge=task.challenge)
    if options.task not in layouts.task_choices(first_id)[0]:
        raise app.UsageError(f"--task={options.task}: release {options.release} cases "
                             f"({first_id}) cannot be of that task; use --release=2023")
    case_ids = write_dataset(options.output_dir, options.num_cases, options.release, shape,
                             options.seed, options.extension, options.with_seg,
                             options.first_case, options.kind, task)
    print(f"wrote {len(case_ids)} {options.kind} {options.release} cases of shape {shape} "
          f"to {options.output_dir} (labels of task {options.task})")


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_string("output_dir", None, "Folder to write case folders into.", required=True)
    flags.DEFINE_integer("num_cases", 4, "Number of cases.", lower_bound=1)
    flags.DEFINE_enum("kind", "simple", sorted(KINDS), "Phantom kind: simple (fast, easy) or "
                      "realistic (a real brain, hard to segment).")
    flags.DEFINE_enum("release", "2021", sorted(layouts.LAYOUTS), "BraTS release layout.")
    flags.DEFINE_enum("task", tasks.DEFAULT_TASK, sorted(tasks.TASKS),
                      "BraTS task whose labels the segmentations hold (docs/DATA.md, Tasks); "
                      "tasks other than GLI's need --release=2023.")
    flags.DEFINE_string("shape", ",".join(map(str, BRATS_SHAPE)),
                        "Grid size x,y,z in voxels; realistic cases always span 240x240x155 mm.")
    flags.DEFINE_integer("seed", 0, "Base seed; case k uses (seed, k).")
    flags.DEFINE_integer("first_case", 0, "Index k of the first case (its id and seed); a "
                         "held-out set starts past the training set's cases.", lower_bound=0)
    flags.DEFINE_enum("extension", ".nii.gz", list(layouts.EXTENSIONS), "File extension.")
    flags.DEFINE_boolean("with_seg", True, "Write segmentations (off: validation-set layout).")


def run():
    """Runs the program: `python -m brats_rev.phantoms` and the `brats-rev-phantoms` script."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
