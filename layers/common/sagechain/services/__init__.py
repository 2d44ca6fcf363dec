"""One module per stage: the logic, talking to the world only through sagechain.ports."""
