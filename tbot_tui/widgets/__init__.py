"""Console widgets, one per file; each watches the app's reactive data it shows."""
