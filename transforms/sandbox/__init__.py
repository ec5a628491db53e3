"""Child processes with time and memory budgets: the worker and the zygote that forks it."""
