"""Verification and grading harness for deep-learning-from-scratch labs.

Data flows one way; each arrow is a module you can read on its own:

    specs/*.yaml --spec--> Spec --cases--> inputs + expected values (reference/)
        --sandbox--> the submission's outputs, computed in a child interpreter
        --compare/diagnose--> CheckResult --rubric--> SubmissionResult --report--> files

Submission code never runs in this process; see harness.sandbox.
"""

__version__ = "0.1.0"
