"""sweeps domain: sweep files fanned out into trial partitions, early stopping, the sweep report."""
