"""The demo shop (`rat init --demo`, `rat demo`): landing files and models. Data, not code."""
