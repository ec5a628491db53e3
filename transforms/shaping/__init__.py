"""Helper transforms that shape a stage's input: balanced bins and sorted batches."""
