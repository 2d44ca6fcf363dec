"""`sagechain`: start, follow and call sagechain runs from a terminal.

It talks to a deployed stack only through its data bucket and its two APIs, found from the
stack's CloudFormation outputs, and checks a dataset with the stack's own validation (the
`sagechain` core package: the dataset spec and the guardrails) before anything is uploaded.
"""

__version__ = "0.1.0"
