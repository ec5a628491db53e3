"""Plain NLP over one spaCy parse, no Beam: the model, entities, figures, quotes."""
