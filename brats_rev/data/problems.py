"""The one record of something wrong with a case: which case, which file, what, how bad."""

import dataclasses

ERROR = "error"
WARNING = "warning"


@dataclasses.dataclass(frozen=True)
class Problem:
    """A finding about one case.

    Attributes:
      case_id: the case (or, for an unrecognised folder, the folder name).
      file: path of the file (or folder) concerned.
      message: what is wrong, in words a user can act on.
      severity: ERROR (the case is rejected) or WARNING (converted, but reported).
    """

    case_id: str
    file: str
    message: str
    severity: str = ERROR

    def __str__(self):
        return f"{self.severity}: {self.case_id}: {self.file}: {self.message}"

    def to_json(self):
        """A JSON-ready dict with keys case_id, file, problem, severity."""
        return {"case_id": self.case_id, "file": self.file, "problem": self.message,
                "severity": self.severity}


def errors(problems):
    """The problems in `problems` with severity ERROR."""
    return [p for p in problems if p.severity == ERROR]
