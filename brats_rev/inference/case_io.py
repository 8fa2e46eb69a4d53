"""What predicting one case reads and returns, without TensorFlow: the case's images
(`load_images`), the `Prediction`, and `CaseError` for a case that cannot be predicted. The
predictor (brats_rev.inference.predictor), the batch runner and the serving client share them.
"""

import dataclasses

import numpy as np

from brats_rev.data import case_reader, preprocess
from brats_rev.data.problems import errors


class CaseError(ValueError):
    """A case that cannot be predicted; the message names the case and the file."""


def load_images(case):
    """Reads and checks the images of `case` (a brats_rev.data.cases.Case; its segmentation
    is ignored); an already loaded brats_rev.data.case_reader.LoadedCase is returned as is.

    Returns:
      LoadedCase.
    Raises:
      CaseError: a file cannot be read or fails the checks; the message names the case and
        the file.
    """
    if isinstance(case, case_reader.LoadedCase):
        return case
    loaded, problems = case_reader.load_case(dataclasses.replace(case, seg=None))
    if loaded is None:
        raise CaseError("; ".join(f"{p.case_id}: {p.file}: {p.message}"
                                  for p in errors(problems)))
    return loaded


@dataclasses.dataclass(frozen=True)
class Prediction:
    """The result for one case.

    Attributes:
      labels: uint8 (X, Y, Z) in `convention`, on the input grid.
      convention: the label convention of `labels`.
      probabilities: float32 (x, y, z, 3) WT/TC/ET probabilities on the crop `box`.
      box: int64 (3, 2) crop box [start, stop) in the input grid.
    """

    labels: np.ndarray
    convention: str
    probabilities: np.ndarray
    box: np.ndarray

    def full_probabilities(self):
        """float32 (X, Y, Z, 3) probabilities on the input grid, 0 outside the crop box."""
        return preprocess.uncrop(self.probabilities, self.box, self.labels.shape)
