"""Near-duplicate detection, no Beam: word shingles, MinHash signatures, LSH band
keys, Jaccard verification and connected components (``transforms.stories`` wires
them into the pipeline)."""
