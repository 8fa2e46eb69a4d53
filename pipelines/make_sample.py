"""Regenerates the built-in sample dataset (tfrecords/sample) byte for byte.

    python -m pipelines.make_sample --output_dir=tfrecords/sample

Writes SAMPLE.num_cases realistic BraTS 2021-layout phantoms on a reduced grid into a
temporary folder, converts them with the standard conversion and fixed options, and removes the
NIfTI files. The grid spans the BraTS field of view at about 3.75 mm, the coarsest voxels at
which the tiny preset's default run still learns every region (docs/BENCHMARKS.md); cases
smaller than a training patch are padded by the sampler.
"""

import dataclasses
import os
import tempfile

from absl import flags

from brats_rev import phantoms, program
from pipelines import conversion, convert_brats


@dataclasses.dataclass(frozen=True)
class SampleSpec:
    """What the sample dataset is made of (changing any field changes the sample)."""

    release: str = "2021"
    kind: str = "realistic"
    num_cases: int = 8
    shape: tuple = (64, 64, 42)
    seed: int = 2021
    num_shards: int = 2
    options: conversion.ConversionOptions = conversion.ConversionOptions(
        max_foreground_per_class=256, num_folds=4)


SAMPLE = SampleSpec()


def make_sample(output_dir, spec=SAMPLE, progress_stream=None):
    """Builds the sample described by `spec` into `output_dir`; returns its manifest dict."""
    with tempfile.TemporaryDirectory(prefix="brats_sample_") as scratch:
        nifti = os.path.join(scratch, "nifti")
        phantoms.write_dataset(nifti, spec.num_cases, spec.release, spec.shape, spec.seed,
                               kind=spec.kind)
        return convert_brats.convert(nifti, output_dir, spec.options,
                                     num_shards=spec.num_shards,
                                     progress_stream=progress_stream)


def main(argv):
    """Entry point: rebuilds the sample and prints its size."""
    del argv
    output_dir = flags.FLAGS.output_dir
    document = make_sample(output_dir)
    size = sum(shard["bytes"] for shard in document["shards"])
    print(f"wrote {document['num_cases']} cases, {size / 1e6:.2f} MB of shards, to {output_dir}")


def define_flags():
    """Defines this program's absl flags (only when run as a program)."""
    flags.DEFINE_string("output_dir", "tfrecords/sample", "Where to write the sample.")


def run():
    """Entry point: `python -m pipelines.make_sample`."""
    define_flags()
    program.run_main(main)


if __name__ == "__main__":
    run()
