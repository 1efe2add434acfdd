"""Image data layer and table reading: scan -> manifest -> split -> decode -> transforms -> Dataset."""
