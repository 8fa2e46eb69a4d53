"""Ways to break a written case file, one per problem kind the validation must report."""

import nibabel as nib
import numpy as np


def _rewrite(path, transform):
    """Loads `path`, applies transform(data, affine) -> (data, affine), saves to `path`."""
    image = nib.load(path, mmap=False)  # no memory map: the file is overwritten below
    data, affine = transform(np.asanyarray(image.dataobj).copy(), image.affine.copy())
    nib.save(nib.Nifti1Image(data, affine), path)


def truncate(path):
    """Keeps the first half of the file's bytes (an interrupted download)."""
    with open(path, "rb") as stream:
        content = stream.read()
    with open(path, "wb") as stream:
        stream.write(content[: len(content) // 2])


def garble(path):
    """Replaces the file with bytes that are no NIfTI."""
    with open(path, "wb") as stream:
        stream.write(b"this is not a nifti file" * 20)


def make_4d(path):
    _rewrite(path, lambda d, a: (np.stack([d, d], axis=-1), a))


def crop_shape(path):
    _rewrite(path, lambda d, a: (np.ascontiguousarray(d[:-1]), a))


def shift_affine(path, millimetres):
    def shift(data, affine):
        affine[0, 3] += millimetres
        return data, affine

    _rewrite(path, shift)


def put_nan(path):
    def with_nan(data, affine):
        data = data.astype(np.float32)
        data[data.shape[0] // 2, data.shape[1] // 2, data.shape[2] // 2] = np.nan
        return data, affine

    _rewrite(path, with_nan)


def zero(path):
    _rewrite(path, lambda d, a: (np.zeros_like(d), a))


def set_label(path, value):
    """Sets one tumour voxel of a segmentation to `value`."""
    def relabel(data, affine):
        data = data.copy()
        data[tuple(np.argwhere(data > 0)[0])] = value
        return data, affine

    _rewrite(path, relabel)
