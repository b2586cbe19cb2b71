"""Models and signals: registry, loading, reference audio, synthesis. No Django in here."""
