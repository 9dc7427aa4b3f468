"""Course autograder: release, collect, execute, judge, gradebook, feedback."""

from .config import CourseConfig
from .errors import CourseError
from .models import CheckResult, ExecutionResult, GradedSubmission, Submission

__all__ = ["CheckResult", "CourseConfig", "CourseError", "ExecutionResult", "GradedSubmission", "Submission"]
__version__ = "0.1.0"
