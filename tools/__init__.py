"""Developer tools that keep repository files in step with the code (not part of the package)."""
